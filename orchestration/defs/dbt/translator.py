"""Maps dbt nodes onto Dagster: one rule, schema = folder = group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator


class WinbackDbtTranslator(DagsterDbtTranslator):
    """Asset key = [schema, name] for models and sources alike, so dbt sources land on the ingest
    and hygiene asset keys (`raw/orders`, `hygiene/email_checks`) and the graph is connected.
    A model's schema comes from its folder in dbt_project.yml and is also its group."""

    @staticmethod
    def _schema(props: Mapping[str, Any]) -> str:
        if props["resource_type"] == "source":
            return props["schema"]
        return props["config"].get("schema") or props["schema"]

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            table = dbt_resource_props.get("identifier") or dbt_resource_props["name"]
            return dg.AssetKey([dbt_resource_props["schema"], table])
        return dg.AssetKey([self._schema(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return self._schema(dbt_resource_props)
