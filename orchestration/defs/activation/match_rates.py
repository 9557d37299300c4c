"""How many rows of an export a platform can match, and an estimate of the matched share.

Per audience and platform: the rows carrying each identifier the platform matches on (a valid
normalised email, an E.164 phone, first and last name with a postal code) and an estimated
matchable share. Email platforms import by address, so every row with an email matches. The ad
platforms match hashed identifiers against their own users: each identifier matches with a
typical rate (`match_rates` in config/platforms.yml, with the date they were checked), and a row
matches when any of its identifiers does, taking them as independent:

    P(row) = 1 - prod over its identifiers (1 - rate)

The estimate is the mean of P over the rows. Counts only: no value leaves the warehouse.
"""

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.lib.config_yaml import load_yaml
from orchestration.lib.metadata import counts_table

IDENTIFIERS = ("email", "phone", "name_postal")
# What each platform matches on; email platforms import by address.
AD_PLATFORMS = ("google_customer_match", "meta")
# The other platforms import by address, except Braze by external_id alone.
KEY_IDENTIFIER = {"braze_external_id": "customer_id"}


class MatchRateConfigError(ValueError):
    """`match_rates` in config/platforms.yml is malformed; the message names platform and field."""


def load_match_rates(path: Path) -> dict[str, dict[str, Any]]:
    """{platform: {"rates": {identifier: rate}, "checked_on": date}} for the ad platforms that
    declare `match_rates` (every identifier, each from 0 to 1)."""
    data = load_yaml(path.read_text(encoding="utf-8"))
    out = {}
    for name, entry in (data.get("platforms") or {}).items():
        rates = (entry or {}).get("match_rates")
        if rates is None:
            continue
        where = f"{path}: platform {name!r}: field 'match_rates'"
        if name not in AD_PLATFORMS:
            raise MatchRateConfigError(f"{where} applies only to {', '.join(AD_PLATFORMS)}")
        if not isinstance(rates, dict) or set(rates) != set(IDENTIFIERS):
            raise MatchRateConfigError(f"{where} must give a rate for each of "
                                       f"{', '.join(IDENTIFIERS)}")
        for key, rate in rates.items():
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise MatchRateConfigError(f"{where}: {key!r} must be a share from 0 to 1; "
                                           f"got {rate!r}")
        out[name] = {"rates": {k: float(rates[k]) for k in IDENTIFIERS},
                     "checked_on": entry["checked_on"]}
    return out


def _present(column: str) -> str:
    return f"(nullif(trim(CAST({column} AS VARCHAR)), '') IS NOT NULL)"


def match_estimate(con, members_sql: str, platform: str,
                   rates: dict[str, Any] | None) -> dict[str, Any]:
    """Counts per identifier and the estimated matchable share over the rows of `members_sql`
    (columns customer_id, email, phone and, when present, first_name, last_name, postal_code)."""
    columns = {d[0] for d in con.execute(f"SELECT * FROM ({members_sql}) LIMIT 0").description}
    has = {"customer_id": _present("customer_id"), "email": _present("email"),
           "phone": _present("phone"),
           "name_postal": (" AND ".join(_present(c) for c in ("first_name", "last_name",
                                                                "postal_code"))
                           if {"first_name", "last_name", "postal_code"} <= columns
                           else "false")}
    if platform in AD_PLATFORMS:
        used = IDENTIFIERS
        rate = (rates or {}).get("rates")
    else:
        key = KEY_IDENTIFIER.get(platform, "email")
        used, rate = (key,), {key: 1.0}
    miss = " * ".join(f"(1 - {rate[k]} * CAST({has[k]} AS INTEGER))" for k in used) if rate \
        else "NULL"
    row = con.execute(
        "SELECT count(*), " + ", ".join(f"count(*) FILTER (WHERE {has[k]})" for k in used)
        + f", avg(1 - {miss}) FROM ({members_sql})").fetchone()
    rows, counts, share = row[0], dict(zip(used, row[1:-1], strict=True)), row[-1]
    estimate: dict[str, Any] = {
        "rows": rows,
        "rows_with": counts,
        "estimated_matchable_share": None if share is None else round(float(share), 4),
    }
    if platform in AD_PLATFORMS:
        estimate["match_rates"] = rate
        checked = (rates or {}).get("checked_on")
        estimate["match_rates_checked_on"] = (checked.isoformat()
                                              if isinstance(checked, dt.date) else None)
    return estimate


def match_metadata(estimate: dict[str, Any]) -> dict[str, Any]:
    """The estimate as Dagster metadata: rows per identifier and the estimated share."""
    share = estimate["estimated_matchable_share"]
    return {
        "rows_with_identifier": counts_table(estimate["rows_with"], label="identifier"),
        "estimated_matchable_share": share if share is not None else "no rows",
    }


def fail_below_minimum(messages: list[str]) -> None:
    """After every other file of the step is written: fail the step (so the run is red and
    the alert fires) naming each export left unwritten for being below its platform's minimum."""
    if messages:
        raise dg.Failure(
            description=(f"{len(messages)} ad platform export(s) below the platform's minimum "
                         "audience size, not written (every other export was): "
                         + "; ".join(messages)),
            metadata={"below_minimum": dg.MetadataValue.json(messages)},
            allow_retries=False,
        )

