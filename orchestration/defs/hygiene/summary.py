"""The contact hygiene summary (counts by reason, share contactable) as metadata on the
contacts/contact_hygiene_summary asset, read from the mart dbt just built. Counts only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.lib.warehouse import open_warehouse

SUMMARY_MODEL = "contact_hygiene_summary"


def hygiene_summary_metadata(warehouse: Path) -> dict[str, Any]:
    with open_warehouse(warehouse, read_only=True) as con:
        rows = con.execute(
            f"SELECT channel, category, code, customers, share_of_customers "
            f"FROM contacts.{SUMMARY_MODEL} ORDER BY channel, category, code"
        ).fetchall()
    metadata: dict[str, Any] = {}
    for channel in ("email", "sms"):
        verdicts = {code: n for ch, cat, code, n, _ in rows if (ch, cat) == (channel, "verdict")}
        flags = {code: n for ch, cat, code, n, _ in rows if (ch, cat) == (channel, "flag")}
        total = sum(verdicts.values())
        metadata[f"{channel}_contactable"] = verdicts.get("contactable", 0)
        metadata[f"{channel}_share_contactable"] = (
            round(verdicts.get("contactable", 0) / total, 4) if total else 0.0
        )
        metadata[f"{channel}_not_contactable_by_reason"] = dg.MetadataValue.json(
            {code: n for code, n in verdicts.items() if code != "contactable"}
        )
        metadata[f"{channel}_flags"] = dg.MetadataValue.json(flags)
    metadata["customers"] = sum(
        n for ch, cat, _, n, _ in rows if (ch, cat) == ("email", "verdict")
    )
    metadata["erased_customers"] = sum(n for _, _, code, n, _ in rows if code == "erased")
    return metadata


def with_hygiene_summary(
    events: Iterable[Any], is_summary: Callable[[dg.Output], bool], warehouse: Path
) -> Iterator[Any]:
    """Pass dbt events through; hold the summary model's output (and what follows it) until dbt
    has finished and released DuckDB, then attach the summary counts to it."""
    held: list[Any] = []
    try:
        for event in events:
            if held or (isinstance(event, dg.Output) and is_summary(event)):
                held.append(event)
            else:
                yield event
    except BaseException:
        yield from held
        raise
    for event in held:
        if isinstance(event, dg.Output) and is_summary(event):
            event = event.with_metadata({**event.metadata, **hygiene_summary_metadata(warehouse)})
        yield event
