"""The Winback code location: composes the definitions from orchestration/defs and applies the
cross-cutting policy (one DuckDB writer at a time, so steps run in one process).

The export assets depend on the audiences file, so the composition reads it once, through the
same Settings (WINBACK_AUDIENCES) that every run uses."""

import dagster as dg

from orchestration.defs import schedules
from orchestration.defs.activation import assets as activation
from orchestration.defs.alerts import sensors as alerts
from orchestration.defs.dbt import assets as dbt
from orchestration.defs.dbt import source_freshness
from orchestration.defs.hygiene import assets as hygiene
from orchestration.defs.ingest import assets as ingest
from orchestration.defs.ingest import sensors as ingest_sensors
from orchestration.defs.predictions import assets as predictions
from orchestration.defs.quality import assets as quality
from orchestration.defs.report import assets as report
from orchestration.defs.resources import WinbackConfig
from orchestration.defs.serving import assets as serving
from orchestration.lib.audiences import audiences_for
from orchestration.lib.settings import Settings, load_settings


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        ingest.defs,
        ingest_sensors.defs,
        hygiene.defs,
        dbt.defs,
        source_freshness.defs,
        predictions.defs,
        quality.defs,
        activation.build_defs(audiences_for(settings)),
        serving.defs,
        report.defs,
        schedules.defs,
        alerts.defs,
        dg.Definitions(resources={"winback": WinbackConfig()}, executor=dg.in_process_executor),
    )


defs = build_defs(load_settings())
