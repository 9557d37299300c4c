"""Audience definitions from a version-controlled YAML file, validated on load.

Each audience is a set of structured filters over the inactivity and activity marts (statuses,
RFM segments, a value floor, days since becoming inactive, expiring loyalty points, open
complaints), plus how it is activated: channel, frequency cap, holdout share, platforms and the
personalisation fields its files carry. No SQL is accepted from the file: the dbt models turn
these fields into SQL. Errors name the file, the audience and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from orchestration.lib.config_yaml import load_yaml
from orchestration.lib.settings import Settings

STATUSES = ("prospect", "active", "at_risk", "inactive", "lapsed", "reactivated")
RFM_SEGMENTS = (
    "Champions", "Loyal", "Potential Loyalists", "New", "Promising", "Need Attention",
    "About to Sleep", "At Risk", "Cannot Lose Them", "Hibernating", "Lost",
)
PURPOSES = ("promotion", "service")
CHANNELS = ("email",)
PLATFORMS = (
    "generic_csv", "mailchimp", "klaviyo", "braze", "braze_external_id", "hubspot", "sendgrid",
    "google_customer_match", "meta",
)
# Member columns a file may carry beyond the platform's identifiers (see the sync model).
PERSONALISATION_FIELDS = (
    "first_name", "last_name", "phone", "country", "postal_code", "last_category",
    "last_order_date", "inactive_since", "days_since_last_order", "rfm_segment",
    "revenue_main_currency", "main_currency", "loyalty_points", "points_expiring",
    "points_expire_on", "clv", "expected_purchases_90d",
)
# What an audience can be ordered by (highest first). The model's measures need the day's model
# check: when it failed, revenue in the main currency stands in for them.
ORDER_BY = ("customer_id", "clv", "expected_purchases_90d", "revenue_main_currency")
MODEL_FLOORS = ("min_clv", "min_expected_purchases_90d")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_SEED = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_KNOWN_KEYS = {
    "name", "description", "purpose", "statuses", "rfm_segments", "min_revenue",
    "days_inactive", "points_expiring_within_days", "channel", "frequency_cap_days",
    "holdout_share", "platforms", "personalisation", "order_by", "variants", *MODEL_FLOORS,
}
# Shares of an audience's variants must sum to 1 within this.
SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Variant:
    """A named part of an audience's treated group (A/B/n split), with its share of it."""

    name: str
    share: float


class AudienceConfigError(ValueError):
    """The audience file is malformed; the message names the audience, the field and the fix."""


@dataclass(frozen=True)
class Audience:
    name: str
    description: str
    purpose: str
    statuses: tuple[str, ...]
    rfm_segments: tuple[str, ...]
    min_revenue: float | None
    days_inactive_min: int | None
    days_inactive_max: int | None
    points_expiring_within_days: int | None
    channel: str
    frequency_cap_days: int
    holdout_share: float
    platforms: tuple[str, ...]
    personalisation: tuple[str, ...]
    definition_hash: str
    min_clv: float | None = None
    min_expected_purchases_90d: float | None = None
    order_by: str = "customer_id"
    variants: tuple[Variant, ...] = ()

    def as_dbt_var(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data


@dataclass(frozen=True)
class ExclusionGroup:
    """Audiences that exclude each other: a customer who qualifies for several of them goes only
    to the first listed (the highest priority); the others record why they left them out."""

    name: str
    audiences: tuple[str, ...]  # highest priority first


@dataclass(frozen=True)
class IntendedOverlap:
    """Promotion audiences meant to reach the same customers (each pair of them): their
    overlap is no warning. `reason` says why both messages are meant."""

    audiences: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class PointsBand:
    """Customers whose lifetime revenue (main currency) reaches `min_revenue` get `points`."""

    min_revenue: float
    points: int


@dataclass(frozen=True)
class PointsGrant:
    """Loyalty points granted when a customer crosses the inactivity threshold, to the treated
    members of `audience` (an email audience of recently inactive customers)."""

    audience: str
    reason: str
    expiry_days: int
    bands: tuple[PointsBand, ...]  # highest floor first; the last floor is 0
    definition_hash: str

    def points_for(self, revenue: float | None) -> int:
        """The points of the first band whose floor the revenue reaches (no revenue: 0)."""
        value = float(revenue or 0)
        return next(b.points for b in self.bands if value >= b.min_revenue)


@dataclass(frozen=True)
class SuppressionAudience:
    """The do-not-contact set as a hashed exclusion audience for the ad platforms."""

    name: str
    platforms: tuple[str, ...]
    definition_hash: str


# Ad platforms that take a hashed exclusion audience (a customer list used to exclude).
SUPPRESSION_PLATFORMS = ("google_customer_match", "meta")


@dataclass(frozen=True)
class AudienceConfig:
    version: str
    holdout_seed: str
    conversion_window_days: int
    audiences: tuple[Audience, ...]
    exclusion_groups: tuple[ExclusionGroup, ...] = ()
    suppression_audience: SuppressionAudience | None = None
    intended_overlaps: tuple[IntendedOverlap, ...] = ()
    points_grant: PointsGrant | None = None

    def overlap_is_intended(self, a: str, b: str) -> bool:
        """Whether an `intended_overlaps` entry names both audiences."""
        return any(a in o.audiences and b in o.audiences for o in self.intended_overlaps)

    def get(self, name: str) -> Audience:
        for audience in self.audiences:
            if audience.name == name:
                return audience
        raise KeyError(name)

    def as_dbt_var(self) -> dict[str, Any]:
        """One JSON-able dbt var (`audiences`) for the sync and membership models."""
        return {
            "version": self.version,
            "holdout_seed": self.holdout_seed,
            "conversion_window_days": self.conversion_window_days,
            "audiences": [a.as_dbt_var() for a in self.audiences],
            "exclusion_groups": [
                {"name": g.name, "audiences": list(g.audiences)} for g in self.exclusion_groups
            ],
        }


class _Fields:
    """Typed access to one audience entry; every error names the audience and the field."""

    def __init__(self, source: str, where: str, data: dict[str, Any]) -> None:
        self.source, self.where, self.data = source, where, data

    def error(self, field: str, problem: str) -> AudienceConfigError:
        return AudienceConfigError(f"{self.source}: {self.where}: field '{field}' {problem}")

    def text(self, field: str, *, required: bool = True) -> str | None:
        value = self.data.get(field)
        if value is None:
            if required:
                raise self.error(field, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, "must be non-empty text")
        return value.strip()

    def choice(self, field: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.data.get(field, default)
        if value not in allowed:
            raise self.error(field, f"must be one of {', '.join(allowed)}; got {value!r}")
        return value

    def choices(self, field: str, allowed: tuple[str, ...], *, required: bool) -> tuple[str, ...]:
        value = self.data.get(field)
        if value is None:
            if required:
                raise self.error(field, "is required (a list)")
            return ()
        if not isinstance(value, list) or (required and not value):
            raise self.error(field, "must be a non-empty list")
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise self.error(field, f"has unknown values {unknown}; allowed: {', '.join(allowed)}")
        if len(set(value)) != len(value):
            raise self.error(field, "lists a value twice")
        return tuple(value)

    def integer(self, field: str, value: Any, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(field, f"must be a whole number >= {minimum}; got {value!r}")
        return value

    def number(self, field: str, value: Any, *, minimum: float, below: float | None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(field, f"must be a number; got {value!r}")
        if value < minimum or (below is not None and value >= below):
            bound = f"from {minimum} and below {below}" if below is not None else f">= {minimum}"
            raise self.error(field, f"must be {bound}; got {value!r}")
        return float(value)


def _definition_hash(entry: dict[str, Any], seed: str) -> str:
    canonical = json.dumps({"audience": entry, "holdout_seed": seed}, sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _parse_audience(source: str, index: int, entry: Any, seed: str) -> Audience:
    if not isinstance(entry, dict):
        raise AudienceConfigError(f"{source}: audiences[{index}] must be a mapping of fields")
    name = entry.get("name")
    where = f"audience {name!r}" if isinstance(name, str) else f"audiences[{index}]"
    f = _Fields(source, where, entry)
    unknown = sorted(set(entry) - _KNOWN_KEYS)
    if unknown:
        raise f.error(unknown[0], "is not a known field (free SQL or ad-hoc filters are not "
                                  f"accepted); known fields: {', '.join(sorted(_KNOWN_KEYS))}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise f.error("name", "must be lower-case letters, digits and _ (starting with a "
                              f"letter, at most 48 characters); got {name!r}")
    description = f.text("description")
    purpose = f.choice("purpose", PURPOSES, default="promotion")
    statuses = f.choices("statuses", STATUSES, required=True)
    segments = f.choices("rfm_segments", RFM_SEGMENTS, required=False)
    min_revenue = entry.get("min_revenue")
    if min_revenue is not None:
        min_revenue = f.number("min_revenue", min_revenue, minimum=0, below=None)
    days = entry.get("days_inactive")
    days_min = days_max = None
    if days is not None:
        if not isinstance(days, dict) or not days or set(days) - {"min", "max"}:
            raise f.error("days_inactive", "must be a mapping with min and/or max days")
        if "min" in days:
            days_min = f.integer("days_inactive.min", days["min"])
        if "max" in days:
            days_max = f.integer("days_inactive.max", days["max"])
        if days_min is not None and days_max is not None and days_min > days_max:
            raise f.error("days_inactive", f"has min {days_min} above max {days_max}")
        if not set(statuses) <= {"inactive", "lapsed"}:
            raise f.error("days_inactive", "applies only to the statuses inactive and lapsed "
                                           "(others have no inactive_since)")
    points = entry.get("points_expiring_within_days")
    if points is not None:
        points = f.integer("points_expiring_within_days", points, minimum=1)
    channel = f.choice("channel", CHANNELS, default="email")
    if "frequency_cap_days" not in entry:
        raise f.error("frequency_cap_days", "is required (0 for no cap)")
    cap = f.integer("frequency_cap_days", entry["frequency_cap_days"])
    if "holdout_share" not in entry:
        raise f.error("holdout_share", "is required (0 for no holdout)")
    holdout = f.number("holdout_share", entry["holdout_share"], minimum=0, below=0.5)
    if purpose == "service" and holdout:
        raise f.error("holdout_share", "must be 0 for a service list (service is not an "
                                       "experiment)")
    platforms = f.choices("platforms", PLATFORMS, required=True)
    personalisation = f.choices("personalisation", PERSONALISATION_FIELDS, required=False)
    if points is None and {"points_expiring", "points_expire_on"} & set(personalisation):
        raise f.error("personalisation", "lists expiring points, which need "
                                         "points_expiring_within_days")
    floors = {}
    for field in MODEL_FLOORS:
        if entry.get(field) is not None:
            floors[field] = f.number(field, entry[field], minimum=0, below=None)
    if floors and min_revenue is None:
        raise f.error(next(iter(floors)), "needs min_revenue beside it: the model's floors apply "
                                          "only when the day's model check passed, min_revenue "
                                          "otherwise")
    order_by = f.choice("order_by", ORDER_BY, default="customer_id")
    variants = _parse_variants(f, entry.get("variants"), purpose)
    return Audience(
        **floors, order_by=order_by, variants=variants,
        name=name, description=description, purpose=purpose, statuses=statuses,
        rfm_segments=segments, min_revenue=min_revenue, days_inactive_min=days_min,
        days_inactive_max=days_max, points_expiring_within_days=points, channel=channel,
        frequency_cap_days=cap, holdout_share=holdout, platforms=platforms,
        personalisation=personalisation, definition_hash=_definition_hash(entry, seed),
    )


def _parse_variants(f: _Fields, entries: Any, purpose: str) -> tuple[Variant, ...]:
    """`variants: [{name, share}, ...]`: two or more named parts of the treated group whose
    shares sum to 1 (the holdout is kept out first)."""
    if entries is None:
        return ()
    if purpose == "service":
        raise f.error("variants", "cannot split a service list (service is not an experiment)")
    if not isinstance(entries, list) or len(entries) < 2:
        raise f.error("variants", "must list at least two variants {name, share}")
    variants = []
    for index, entry in enumerate(entries):
        field = f"variants[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"name", "share"}:
            raise f.error(field, "must have exactly the fields name and share")
        name = entry["name"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise f.error(f"{field}.name", "must be lower-case letters, digits and _ "
                                           f"(starting with a letter); got {name!r}")
        if any(v.name == name for v in variants):
            raise f.error(f"{field}.name", f"{name!r} is used twice")
        share = f.number(f"{field}.share", entry["share"], minimum=0, below=1)
        if share == 0:
            raise f.error(f"{field}.share", "must be above 0")
        variants.append(Variant(name=name, share=share))
    total = sum(v.share for v in variants)
    if abs(total - 1) > SHARE_TOLERANCE:
        raise f.error("variants", f"shares must sum to 1 (of the treated group); they sum to "
                                  f"{total:g}")
    return tuple(variants)


def parse_audiences(data: Any, source: str = "audiences.yml") -> AudienceConfig:
    if not isinstance(data, dict):
        raise AudienceConfigError(f"{source}: the file must be a mapping with version, "
                                  "holdout_seed and audiences")
    for key in ("version", "holdout_seed"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise AudienceConfigError(f"{source}: field '{key}' is required (text)")
    entries = data.get("audiences")
    if not isinstance(entries, list) or not entries:
        raise AudienceConfigError(f"{source}: field 'audiences' must be a non-empty list")
    seed = data["holdout_seed"].strip()
    if not _SEED.match(seed):
        raise AudienceConfigError(f"{source}: field 'holdout_seed' must be letters, digits, "
                                  "'.', '_' or '-' (at most 64)")
    audiences = tuple(_parse_audience(source, i, e, seed) for i, e in enumerate(entries))
    seen: set[str] = set()
    for audience in audiences:
        if audience.name in seen:
            raise AudienceConfigError(f"{source}: audience {audience.name!r}: field 'name' is "
                                      "used twice")
        seen.add(audience.name)
    window = data.get("conversion_window_days", 30)
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 365:
        raise AudienceConfigError(f"{source}: field 'conversion_window_days' must be a whole "
                                  f"number of days from 1 to 365; got {window!r}")
    groups = _parse_exclusion_groups(source, data.get("exclusion_groups"), audiences)
    return AudienceConfig(version=data["version"].strip(), holdout_seed=seed,
                          conversion_window_days=window,
                          audiences=_with_group_hashes(audiences, groups, seed),
                          exclusion_groups=groups,
                          suppression_audience=_parse_suppression_audience(
                              source, data.get("suppression_audience"), audiences, seed),
                          intended_overlaps=_parse_intended_overlaps(
                              source, data.get("intended_overlaps"), audiences, groups),
                          points_grant=_parse_points_grant(
                              source, data.get("points_grant"), audiences, seed))


# ---- priority and exclusion groups -----------------------------------------------------------


def _parse_exclusion_groups(
    source: str, entries: Any, audiences: tuple[Audience, ...]
) -> tuple[ExclusionGroup, ...]:
    """`exclusion_groups`: a list of {name, audiences: [highest priority first, ...]}. An
    audience belongs to at most one group; a group names at least two known audiences."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise AudienceConfigError(f"{source}: field 'exclusion_groups' must be a list of "
                                  "{name, audiences} (audiences in priority order)")
    known = {a.name: a for a in audiences}
    grouped: dict[str, str] = {}
    groups: list[ExclusionGroup] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"name", "audiences"}:
            raise AudienceConfigError(f"{source}: exclusion_groups[{index}] must have exactly "
                                      "the fields name and audiences")
        name = entry["name"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise AudienceConfigError(f"{source}: exclusion_groups[{index}]: field 'name' must be "
                                      f"lower-case letters, digits and _; got {name!r}")
        where = f"{source}: exclusion group {name!r}: field 'audiences'"
        if any(g.name == name for g in groups):
            raise AudienceConfigError(f"{source}: exclusion group {name!r} is defined twice")
        members = entry["audiences"]
        if not isinstance(members, list) or len(members) < 2:
            raise AudienceConfigError(f"{where} must list at least two audiences, highest "
                                      "priority first")
        for member in members:
            if member not in known:
                raise AudienceConfigError(f"{where} names {member!r}, which is not an audience")
            if member in grouped:
                raise AudienceConfigError(f"{where} names {member!r}, which is already in the "
                                          f"exclusion group {grouped[member]!r} (one group per "
                                          "audience)")
            if known[member].purpose != "promotion":
                raise AudienceConfigError(f"{where} names {member!r}, a {known[member].purpose} "
                                          "list; only promotion audiences compete for customers")
            grouped[member] = name
        groups.append(ExclusionGroup(name=name, audiences=tuple(members)))
    return tuple(groups)


def _parse_intended_overlaps(
    source: str, entries: Any, audiences: tuple[Audience, ...],
    groups: tuple[ExclusionGroup, ...],
) -> tuple[IntendedOverlap, ...]:
    """`intended_overlaps`: a list of {audiences: [two or more promotions], reason}. Every pair
    of the listed audiences may share customers without a warning in the run summary."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise AudienceConfigError(f"{source}: field 'intended_overlaps' must be a list of "
                                  "{audiences, reason}")
    known = {a.name: a for a in audiences}
    out = []
    for index, entry in enumerate(entries):
        where = f"{source}: intended_overlaps[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"audiences", "reason"}:
            raise AudienceConfigError(f"{where} must have exactly the fields audiences and "
                                      "reason")
        reason = entry["reason"]
        if not isinstance(reason, str) or not reason.strip():
            raise AudienceConfigError(f"{where}: field 'reason' must say why both messages are "
                                      "meant (text)")
        members = entry["audiences"]
        if (not isinstance(members, list) or len(members) < 2
                or len(set(map(str, members))) != len(members)):
            raise AudienceConfigError(f"{where}: field 'audiences' must list two or more "
                                      "different audiences")
        for member in members:
            if member not in known or known[member].purpose != "promotion":
                raise AudienceConfigError(f"{where}: field 'audiences' names {member!r}, which "
                                          "is not a promotion audience")
        for group in groups:
            shared = [m for m in members if m in group.audiences]
            if len(shared) > 1:
                raise AudienceConfigError(
                    f"{where}: field 'audiences' names {shared[0]!r} and {shared[1]!r}, which "
                    f"share the exclusion group {group.name!r}: they never overlap")
        out.append(IntendedOverlap(audiences=tuple(members), reason=reason.strip()))
    return tuple(out)


def _with_group_hashes(
    audiences: tuple[Audience, ...], groups: tuple[ExclusionGroup, ...], seed: str
) -> tuple[Audience, ...]:
    """A grouped audience's membership depends on its group and the audiences ranked above it,
    so its definition hash covers them; ungrouped audiences keep their hash."""
    out = []
    for audience in audiences:
        group = next((g for g in groups if audience.name in g.audiences), None)
        if group is not None:
            entry = {"definition_hash": audience.definition_hash, "exclusion_group": group.name,
                     "ranked_above": list(group.audiences[:group.audiences.index(audience.name)])}
            audience = replace(audience, definition_hash=_definition_hash(entry, seed))
        out.append(audience)
    return tuple(out)


def load_audiences(path: Path) -> AudienceConfig:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AudienceConfigError(f"{path}: audience file not found") from exc
    except yaml.YAMLError as exc:
        raise AudienceConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    return parse_audiences(data, str(path))


def audiences_for(settings: Settings) -> AudienceConfig:
    """The audiences a run uses (WINBACK_AUDIENCES, default config/audiences.yml)."""
    return load_audiences(settings.audiences_file)


HOLDOUT_BUCKETS = 2**32


def holdout_bucket(seed: str, audience: str, customer_id: str) -> float:
    """A stable number in [0, 1) from md5(seed|audience|customer_id): the first 8 hex digits
    as an integer over 2**32. The dbt macro `holdout_bucket` computes the same value in SQL."""
    digest = hashlib.md5(f"{seed}|{audience}|{customer_id}".encode(), usedforsecurity=False)
    return int(digest.hexdigest()[:8], 16) / HOLDOUT_BUCKETS


def assign_group(seed: str, audience: str, customer_id: str, holdout_share: float) -> str:
    """'holdout' for the customers whose bucket falls below the share, else 'treatment'."""
    return "holdout" if holdout_bucket(seed, audience, customer_id) < holdout_share else "treatment"


def variant_bucket(seed: str, audience: str, customer_id: str) -> float:
    """The holdout's scheme with another salt, md5(seed|variant|audience|customer_id), so the
    variant is independent of the holdout split. The dbt macro `variant_bucket` matches it."""
    return holdout_bucket(f"{seed}|variant", audience, customer_id)


def assign_variant(seed: str, audience: Audience, customer_id: str) -> str | None:
    """The variant of a treated customer: the first whose cumulative share (in the order
    listed) is above the customer's variant bucket; None for an audience without variants."""
    if not audience.variants:
        return None
    bucket = variant_bucket(seed, audience.name, customer_id)
    cumulative = 0.0
    for variant in audience.variants[:-1]:
        cumulative += variant.share
        if bucket < cumulative:
            return variant.name
    return audience.variants[-1].name


# ---- points at the inactivity point -----------------------------------------------------------

_REASON = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
MAX_EXPIRY_DAYS = 3650


def _parse_points_grant(
    source: str, entry: Any, audiences: tuple[Audience, ...], seed: str
) -> PointsGrant | None:
    """`points_grant: {audience, reason, expiry_days, points}`. `points` is a whole number (the
    same for everyone) or a list of bands {min_revenue, points}, highest floor first, the last
    with min_revenue 0 so every customer has one. The audience must be a promotion of inactive
    customers only, limited to recent crossings (days_inactive max)."""
    if entry is None:
        return None
    where = f"{source}: points_grant"
    fields = {"audience", "reason", "expiry_days", "points"}
    if not isinstance(entry, dict) or set(entry) != fields:
        raise AudienceConfigError(f"{where} must have exactly the fields "
                                  f"{', '.join(sorted(fields))}")
    audience = next((a for a in audiences if a.name == entry["audience"]), None)
    if audience is None:
        raise AudienceConfigError(f"{where}: field 'audience' names {entry['audience']!r}, "
                                  "which is not an audience")
    if (audience.purpose != "promotion" or audience.statuses != ("inactive",)
            or audience.days_inactive_max is None):
        raise AudienceConfigError(
            f"{where}: field 'audience' names {audience.name!r}, which must be a promotion of "
            "the status inactive alone with days_inactive max (the customers who crossed the "
            "threshold lately)")
    reason = entry["reason"]
    if not isinstance(reason, str) or not _REASON.match(reason):
        raise AudienceConfigError(f"{where}: field 'reason' must be lower-case letters, digits "
                                  f"and _ (a code for the loyalty system); got {reason!r}")
    expiry = entry["expiry_days"]
    if (isinstance(expiry, bool) or not isinstance(expiry, int)
            or not 1 <= expiry <= MAX_EXPIRY_DAYS):
        raise AudienceConfigError(f"{where}: field 'expiry_days' must be a whole number of days "
                                  f"from 1 to {MAX_EXPIRY_DAYS}; got {expiry!r}")
    return PointsGrant(audience=audience.name, reason=reason, expiry_days=expiry,
                       bands=_parse_points_bands(where, entry["points"]),
                       definition_hash=_definition_hash({"points_grant": entry}, seed))


def _points(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AudienceConfigError(f"{where} must be a whole number of points >= 1; "
                                  f"got {value!r}")
    return value


def _parse_points_bands(where: str, points: Any) -> tuple[PointsBand, ...]:
    if not isinstance(points, list):
        return (PointsBand(0.0, _points(f"{where}: field 'points'", points)),)
    if not points:
        raise AudienceConfigError(f"{where}: field 'points' must be a number or a non-empty "
                                  "list of {min_revenue, points}")
    bands = []
    for index, band in enumerate(points):
        field = f"{where}: field 'points[{index}]'"
        if not isinstance(band, dict) or set(band) != {"min_revenue", "points"}:
            raise AudienceConfigError(f"{field} must have exactly the fields min_revenue and "
                                      "points")
        floor = band["min_revenue"]
        if isinstance(floor, bool) or not isinstance(floor, int | float) or floor < 0:
            raise AudienceConfigError(f"{field}: min_revenue must be a number >= 0; "
                                      f"got {floor!r}")
        if bands and floor >= bands[-1].min_revenue:
            raise AudienceConfigError(f"{field}: min_revenue must be below the band before "
                                      "it (highest floor first)")
        bands.append(PointsBand(float(floor), _points(f"{field}: points", band["points"])))
    if bands[-1].min_revenue != 0:
        raise AudienceConfigError(f"{where}: field 'points': the last band must have "
                                  "min_revenue 0 so every customer gets points")
    return tuple(bands)


# ---- the suppression audience ----------------------------------------------------------------


def _parse_suppression_audience(
    source: str, entry: Any, audiences: tuple[Audience, ...], seed: str
) -> SuppressionAudience | None:
    """`suppression_audience: {name, platforms}`: the do-not-contact set (opted out,
    suppressed) written as a hashed exclusion audience for the listed ad platforms."""
    if entry is None:
        return None
    where = f"{source}: suppression_audience"
    if not isinstance(entry, dict) or set(entry) != {"name", "platforms"}:
        raise AudienceConfigError(f"{where} must have exactly the fields name and platforms")
    name = entry["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise AudienceConfigError(f"{where}: field 'name' must be lower-case letters, digits "
                                  f"and _ (at most 48 characters); got {name!r}")
    if any(a.name == name for a in audiences):
        raise AudienceConfigError(f"{where}: field 'name' {name!r} is also an audience's name "
                                  "(files would share a folder)")
    platforms = entry["platforms"]
    if (not isinstance(platforms, list) or not platforms
            or any(p not in SUPPRESSION_PLATFORMS for p in platforms)
            or len(set(platforms)) != len(platforms)):
        raise AudienceConfigError(f"{where}: field 'platforms' must list, once each, some of "
                                  f"{', '.join(SUPPRESSION_PLATFORMS)} (hashed ad platforms); "
                                  f"got {platforms!r}")
    return SuppressionAudience(name=name, platforms=tuple(platforms),
                               definition_hash=_definition_hash(
                                   {"suppression_audience": entry}, seed))

