"""Inactivity policies from a version-controlled YAML file, validated on load.

The file (default `config/inactivity_policies.yml`, or WINBACK_INACTIVITY_POLICIES) says which
rule sets each customer's inactivity threshold: an override for their last category or RFM
segment, else the cadence rule (k x their own median gap, bounded) when they have enough
history, else the fixed threshold. Errors name the file and the field, never customer data.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from orchestration.lib.config_yaml import load_yaml
from orchestration.lib.settings import Settings

RFM_SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential Loyalists",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
    "Lost",
)
MATCH_FIELDS = ("last_category", "rfm_segment")
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class PolicyError(ValueError):
    """The policy file is malformed; the message names the file, the field and the fix."""


@dataclass(frozen=True)
class Override:
    rule_id: str
    match_field: str
    match_value: str
    threshold_days: int


@dataclass(frozen=True)
class Cadence:
    enabled: bool
    rule_id: str
    multiplier: float
    floor_days: int
    ceiling_days: int
    min_purchase_days: int


@dataclass(frozen=True)
class ChurnSignals:
    window_days: int
    many_service_requests: int
    low_satisfaction_max: int


@dataclass(frozen=True)
class ModelDisagreement:
    p_alive_high: float
    p_alive_low: float


@dataclass(frozen=True)
class ModelCheck:
    """Out-of-time check of the BG/NBD: fit as of D - holdout_days, compare with what happened."""

    holdout_days: int = 90
    min_calibration_slope: float = 0.7
    max_calibration_slope: float = 1.3
    max_total_error_share: float = 0.25


@dataclass(frozen=True)
class CustomerValue:
    """Customer lifetime value: discounted expected spend over horizon_days."""

    horizon_days: int = 365
    annual_discount_rate: float = 0.1


@dataclass(frozen=True)
class Policies:
    version: str
    fixed_rule_id: str
    fixed_threshold_days: int
    at_risk_band_days: int
    lapsed_multiplier: float
    reactivated_window_days: int
    cadence: Cadence
    churn_signals: ChurnSignals
    model_disagreement: ModelDisagreement
    overrides: tuple[Override, ...] = field(default_factory=tuple)
    model_check: ModelCheck = field(default_factory=ModelCheck)
    customer_value: CustomerValue = field(default_factory=CustomerValue)

    def with_fixed_threshold(self, days: int | None) -> Policies:
        """The same policies with the fixed threshold replaced (WINBACK_INACTIVE_DAYS)."""
        if days is None:
            return self
        replaced = replace(self, fixed_threshold_days=days)
        _check_bands(replaced, "WINBACK_INACTIVE_DAYS")
        return replaced

    def as_dbt_var(self) -> dict[str, Any]:
        """The policies as one JSON-able dbt var (`inactivity_policies`)."""
        data = asdict(self)
        data["overrides"] = [asdict(o) for o in self.overrides]
        return data


class _Reader:
    """Typed access to one mapping of the file, with errors that name the field."""

    def __init__(self, source: str, data: Any, prefix: str = "") -> None:
        self.source = source
        self.prefix = prefix
        if not isinstance(data, dict):
            raise self.error(prefix.rstrip(".") or "the file", "must be a mapping of fields")
        self.data = data

    def error(self, name: str, problem: str) -> PolicyError:
        return PolicyError(f"{self.source}: {name} {problem}")

    def name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def require(self, key: str) -> Any:
        if key not in self.data or self.data[key] is None:
            raise self.error(self.name(key), "is required")
        return self.data[key]

    def integer(self, key: str, minimum: int, default: int | None = None) -> int:
        value = self.data.get(key, default) if default is not None else self.require(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(self.name(key), "must be a whole number of days or a count")
        if value < minimum:
            raise self.error(self.name(key), f"must be at least {minimum}")
        return value

    def number(self, key: str, low: float, high: float | None = None) -> float:
        value = self.require(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(self.name(key), "must be a number")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.error(self.name(key), f"must be {bound}")
        return float(value)

    def rule_id(self, key: str = "rule_id") -> str:
        value = self.require(key)
        if not isinstance(value, str) or not _RULE_ID.match(value):
            raise self.error(
                self.name(key), "must be a lower-case identifier like fixed_threshold"
            )
        return value

    def section(self, key: str) -> _Reader:
        return _Reader(self.source, self.require(key), f"{self.name(key)}.")

    def unknown_keys(self, allowed: set[str]) -> None:
        extra = sorted(set(self.data) - allowed)
        if extra:
            raise self.error(
                self.name(extra[0]), f"is not a known field (expected one of {sorted(allowed)})"
            )


def _override(source: str, index: int, data: Any) -> Override:
    reader = _Reader(source, data, f"overrides[{index}].")
    reader.unknown_keys({"rule_id", "match", "threshold_days"})
    match = reader.section("match")
    if len(match.data) != 1:
        raise reader.error(
            reader.name("match"), f"must hold exactly one of {list(MATCH_FIELDS)}"
        )
    ((match_field, match_value),) = match.data.items()
    if match_field not in MATCH_FIELDS:
        raise reader.error(
            match.name(str(match_field)), f"is not a match field (use one of {list(MATCH_FIELDS)})"
        )
    if not isinstance(match_value, str) or not match_value.strip():
        raise reader.error(match.name(match_field), "must be a non-empty text value")
    if match_field == "rfm_segment" and match_value not in RFM_SEGMENTS:
        raise reader.error(
            match.name(match_field), f"must be one of the RFM segments {list(RFM_SEGMENTS)}"
        )
    if match_field == "last_category":
        match_value = match_value.strip().lower()  # categories are lower-cased in staging
    return Override(
        rule_id=reader.rule_id(),
        match_field=match_field,
        match_value=match_value,
        threshold_days=reader.integer("threshold_days", 2),
    )


def _model_check(root: _Reader) -> ModelCheck:
    if root.data.get("model_check") is None:
        return ModelCheck()
    check = root.section("model_check")
    fields = {"holdout_days", "min_calibration_slope", "max_calibration_slope",
              "max_total_error_share"}
    check.unknown_keys(fields)
    missing = sorted(fields - set(check.data))
    if missing:
        raise check.error(check.name(missing[0]), "is required")
    result = ModelCheck(
        holdout_days=check.integer("holdout_days", 7),
        min_calibration_slope=check.number("min_calibration_slope", 0.0),
        max_calibration_slope=check.number("max_calibration_slope", 0.0),
        max_total_error_share=check.number("max_total_error_share", 0.0),
    )
    if result.max_calibration_slope <= result.min_calibration_slope:
        raise check.error(
            check.name("max_calibration_slope"), "must be above model_check.min_calibration_slope"
        )
    return result


def _customer_value(root: _Reader) -> CustomerValue:
    if root.data.get("customer_value") is None:
        return CustomerValue()
    value = root.section("customer_value")
    value.unknown_keys({"horizon_days", "annual_discount_rate"})
    return CustomerValue(
        horizon_days=value.integer("horizon_days", 1),
        annual_discount_rate=value.number("annual_discount_rate", 0.0, 1.0),
    )


def _check_bands(policies: Policies, source: str) -> None:
    smallest = [("fixed.threshold_days", policies.fixed_threshold_days)]
    smallest += [(f"override {o.rule_id}", o.threshold_days) for o in policies.overrides]
    if policies.cadence.enabled:
        smallest.append(("cadence.floor_days", policies.cadence.floor_days))
    for name, days in smallest:
        if policies.at_risk_band_days >= days:
            raise PolicyError(
                f"{source}: at_risk_band_days must be smaller than every threshold, "
                f"but {name} is {days}"
            )


def parse_policies(data: Any, source: str = "inactivity policies") -> Policies:
    root = _Reader(source, data)
    root.unknown_keys({
        "version", "fixed", "at_risk_band_days", "lapsed_multiplier", "reactivated_window_days",
        "overrides", "cadence", "churn_signals", "model_disagreement", "model_check",
        "customer_value",
    })
    version = root.require("version")
    if not isinstance(version, (str, int)) or not str(version).strip():
        raise root.error("version", "must be a non-empty text such as \"2026-11-27.1\"")

    fixed = root.section("fixed")
    fixed.unknown_keys({"rule_id", "threshold_days"})

    cadence = root.section("cadence")
    cadence.unknown_keys({
        "enabled", "rule_id", "multiplier", "floor_days", "ceiling_days", "min_purchase_days"
    })
    enabled = cadence.require("enabled")
    if not isinstance(enabled, bool):
        raise cadence.error(cadence.name("enabled"), "must be true or false")
    cadence_policy = Cadence(
        enabled=enabled,
        rule_id=cadence.rule_id(),
        multiplier=cadence.number("multiplier", 1.0),
        floor_days=cadence.integer("floor_days", 2),
        ceiling_days=cadence.integer("ceiling_days", 2),
        min_purchase_days=cadence.integer("min_purchase_days", 3),
    )
    if cadence_policy.ceiling_days < cadence_policy.floor_days:
        raise cadence.error(cadence.name("ceiling_days"), "must not be below cadence.floor_days")

    signals = root.section("churn_signals")
    signals.unknown_keys({"window_days", "many_service_requests", "low_satisfaction_max"})
    disagreement = root.section("model_disagreement")
    disagreement.unknown_keys({"p_alive_high", "p_alive_low"})
    high = disagreement.number("p_alive_high", 0.0, 1.0)
    low = disagreement.number("p_alive_low", 0.0, 1.0)
    if low >= high:
        raise disagreement.error(
            disagreement.name("p_alive_low"), "must be below model_disagreement.p_alive_high"
        )

    raw_overrides = data.get("overrides") or []
    if not isinstance(raw_overrides, list):
        raise root.error("overrides", "must be a list")
    overrides = tuple(_override(source, i, item) for i, item in enumerate(raw_overrides))
    ids = [fixed.rule_id(), cadence_policy.rule_id] + [o.rule_id for o in overrides]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise root.error("rule_id", f"{duplicate!r} is used twice; every rule needs its own id")

    policies = Policies(
        version=str(version).strip(),
        fixed_rule_id=ids[0],
        fixed_threshold_days=fixed.integer("threshold_days", 2),
        at_risk_band_days=root.integer("at_risk_band_days", 0),
        lapsed_multiplier=root.number("lapsed_multiplier", 1.0),
        reactivated_window_days=root.integer("reactivated_window_days", 1),
        cadence=cadence_policy,
        churn_signals=ChurnSignals(
            window_days=signals.integer("window_days", 1),
            many_service_requests=signals.integer("many_service_requests", 1),
            low_satisfaction_max=signals.integer("low_satisfaction_max", 1),
        ),
        model_disagreement=ModelDisagreement(p_alive_high=high, p_alive_low=low),
        overrides=overrides,
        model_check=_model_check(root),
        customer_value=_customer_value(root),
    )
    if policies.lapsed_multiplier <= 1.0:
        raise root.error(
            "lapsed_multiplier", "must be greater than 1 (lapsed comes after inactive)"
        )
    _check_bands(policies, source)
    return policies


def load_policies(path: Path, fixed_threshold_days: int | None = None) -> Policies:
    """Read and validate the policy file; `fixed_threshold_days` (WINBACK_INACTIVE_DAYS) wins."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            f"{path}: the inactivity policy file does not exist; set WINBACK_INACTIVITY_POLICIES "
            "or restore config/inactivity_policies.yml"
        ) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PolicyError(f"{path}: not valid YAML{where}") from None
    return parse_policies(data, str(path)).with_fixed_threshold(fixed_threshold_days)


def policies_for(settings: Settings) -> Policies:
    """The policies a run applies: the configured file, with WINBACK_INACTIVE_DAYS if set."""
    return load_policies(settings.policies_file, settings.inactive_days)
