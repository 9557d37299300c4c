"""The Winback code location: composes the definitions from orchestration/defs and applies the
cross-cutting policy (one DuckDB writer at a time, so steps run in one process)."""

import dagster as dg

from orchestration.defs.activation import exports as activation
from orchestration.defs.dbt import assets as dbt
from orchestration.defs.hygiene import assets as hygiene
from orchestration.defs.ingest import assets as ingest
from orchestration.defs.ingest import sensors as ingest_sensors
from orchestration.defs.models import assets as models
from orchestration.defs.quality import checks as quality
from orchestration.defs import schedules
from orchestration.defs.resources import WinbackConfig

defs = dg.Definitions.merge(
    ingest.defs,
    ingest_sensors.defs,
    hygiene.defs,
    quality.defs,
    dbt.defs,
    models.defs,
    activation.defs,
    schedules.defs,
    dg.Definitions(resources={"winback": WinbackConfig()}, executor=dg.in_process_executor),
)
