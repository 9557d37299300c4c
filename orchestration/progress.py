"""Progress of a run in the terminal: one line per step, with its key count and its time.

`winback` adds this logger to the job it runs in process. It reads the step's Dagster events
(start, materializations, check results, success or failure) and prints one line when the step
ends, e.g. `ingest orders: 1 new file, 0 skipped, 10,490 rows loaded, 5 quarantined, 0.4 s`.
The lines carry counts and asset names only, never row values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import dagster as dg
from dagster import DagsterEventType


@dataclass
class StepRecord:
    """What one step did, collected from its events."""

    started: float
    materialized: list[tuple[tuple[str, ...], Mapping[str, Any]]] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: int = 0
    check_name: str = ""


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _value(metadata: Mapping[str, Any], key: str, default: Any = 0) -> Any:
    value = metadata.get(key, default)
    return getattr(value, "value", value)


def _entries(metadata: Mapping[str, Any], key: str) -> int:
    """How many rows a table (or list) metadata value holds; 0 when absent."""
    value = metadata.get(key)
    if isinstance(value, dg.TableMetadataValue):
        return len(value.records)
    return len(_value(metadata, key, []))


def _ingest(name: str, metadata: Mapping[str, Any]) -> str:
    if not _value(metadata, "folder_present", True) and "sql_source" not in metadata:
        return f"ingest {name}: no {name}/ folder, no rows (optional input)"
    files = _entries(metadata, "files_loaded")
    skipped = _entries(metadata, "files_skipped_already_loaded")
    parts = [f"{_plural(files, 'new file')}", f"{skipped:,} skipped",
             f"{_value(metadata, 'rows_loaded'):,} rows loaded"]
    quarantined = _value(metadata, "rows_quarantined")
    if quarantined:
        parts.append(f"{quarantined:,} quarantined")
    return f"ingest {name}: " + ", ".join(parts)


def _checks(step: StepRecord) -> str:
    text = f"{step.checks_passed:,} passed"
    return text + (f", {step.checks_failed:,} failed" if step.checks_failed else "")


def describe(step_key: str, step: StepRecord) -> str:
    """The line of a step without its time: a name and the count that says what it did."""
    if not step.materialized:
        if step.checks_passed + step.checks_failed == 1:
            return f"check {step.check_name}: {'passed' if step.checks_passed else 'failed'}"
        return f"{step_key}: checks {_checks(step)}"
    key, metadata = step.materialized[0]
    area, name = key[0], "/".join(key[1:])
    if "unique_id" in metadata:
        # A dbt step: many models, its tests are the step's checks.
        label = step_key.removeprefix("winback_").replace("_", " ")
        return f"{label}: {_plural(len(step.materialized), 'model')} built, tests {_checks(step)}"
    if area == "raw" and "rows_loaded" in metadata:
        return _ingest(name, metadata)
    if area == "exports" and "grants" in metadata:
        return (f"points grants: {_plural(_value(metadata, 'grants'), 'grant')}, "
                f"{_value(metadata, 'points'):,} points, "
                f"{_value(metadata, 'issued_before'):,} issued before")
    if area == "exports":
        rows = sum(_value(m, "rows") for _, m in step.materialized)
        adds = sum(_value(m, "adds") for _, m in step.materialized)
        removes = sum(_value(m, "removes") for _, m in step.materialized)
        # One step per export multi-asset: audience_exports, suppression_exports.
        label = step_key.removesuffix("_exports").replace("_", " ")
        label = "audiences" if label == "audience" else label
        return (f"export {label}: {_plural(len(step.materialized), 'export')}, {rows:,} rows, "
                f"{adds:,} adds, {removes:,} removes")
    if area == "hygiene":
        invalid = sum(_value(metadata, k) for k in metadata
                      if k.startswith("invalid_") and isinstance(_value(metadata, k), int))
        return (f"hygiene {name}: {_value(metadata, 'values_checked'):,} values checked, "
                f"{_value(metadata, 'values_reused'):,} reused, {invalid:,} invalid")
    if area == "serving":
        return f"serving {name}: {_plural(_value(metadata, 'tables'), 'table')} published"
    if area == "report":
        return f"report {name}: {_plural(_value(metadata, 'charts'), 'chart')} drawn"
    if "model_check_passed" in metadata:
        verdict = "passed" if _value(metadata, "model_check_passed") else "WARNING, failed"
        return f"{area} model check: {verdict} ({_value(metadata, 'model_check_reason')})"
    if "dagster/row_count" in metadata:
        return f"{area} {name}: {_value(metadata, 'dagster/row_count'):,} rows"
    return f"{area} {name}: {_plural(len(step.materialized), 'asset')}"


class ProgressHandler(logging.Handler):
    """Collects each step's events and writes its line to `out` when the step ends."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(level=logging.DEBUG)
        self.out = out
        self.steps: dict[str, StepRecord] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_event", None)
        if event is None or event.step_key is None:
            return
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            self.steps[event.step_key] = StepRecord(started=time.monotonic())
            return
        step = self.steps.get(event.step_key)
        if step is None:
            return
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            step.materialized.append((tuple(materialization.asset_key.path),
                                      materialization.metadata))
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            step.check_name = event.event_specific_data.check_name
            if event.event_specific_data.passed:
                step.checks_passed += 1
            else:
                step.checks_failed += 1
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            seconds = time.monotonic() - step.started
            outcome = "FAILED after " if kind == DagsterEventType.STEP_FAILURE else ""
            self.out.write(f"  {describe(event.step_key, step)}, {outcome}{seconds:.1f} s\n")
            self.out.flush()
            del self.steps[event.step_key]


def progress_logger(out: TextIO) -> dg.LoggerDefinition:
    """A Dagster logger definition that prints step lines to `out`."""

    def build(_: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.Logger("winback.progress", level=logging.DEBUG)
        logger.addHandler(ProgressHandler(out))
        return logger

    return dg.LoggerDefinition(build, description="one line per finished step")
