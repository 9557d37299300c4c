"""Maps dbt nodes onto Dagster: one rule, schema = folder = group."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject

from orchestration.lib.freshness import DAILY_FRESHNESS


def test_description(test: Mapping[str, Any]) -> str:
    """What a dbt test checks, in words: its own description when it has one, the leading
    comment of a singular test, else a sentence built from the generic test and its arguments."""
    if test.get("description"):
        return test["description"]
    metadata = test.get("test_metadata") or {}
    kwargs = metadata.get("kwargs", {})
    column = kwargs.get("column_name") or test.get("column_name")
    match metadata.get("name"):
        case None:
            comment = re.findall(r"^\s*--\s?(.*)$", test.get("raw_code", ""), re.MULTILINE)
            return " ".join(comment) or f"dbt test {test['name']}: returns no rows."
        case "unique":
            return f"`{column}` is unique."
        case "not_null":
            return f"`{column}` is never null."
        case "accepted_values":
            return f"`{column}` is one of {', '.join(map(str, kwargs.get('values', [])))}."
        case "unique_combination_of_columns":
            return f"({', '.join(kwargs.get('combination_of_columns') or kwargs['columns'])}) " \
                   "is unique."
        case name:
            arguments = ", ".join(
                f"{k}={v}" for k, v in sorted(kwargs.items()) if k not in ("model", "column_name")
            )
            on = f" on `{column}`" if column else ""
            return f"dbt test {name}{on}" + (f" ({arguments})" if arguments else "") + "."


class WinbackDbtTranslator(DagsterDbtTranslator):
    """Asset key = [schema, name] for models and sources alike, so dbt sources land on the ingest
    and hygiene asset keys (`raw/orders`, `hygiene/email_checks`) and the graph is connected.
    A model's schema comes from its folder in dbt_project.yml and is also its group. Marts carry
    the daily freshness policy; every dbt test check has a description."""

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

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "model" and props["fqn"][1] == "marts":
            return spec.replace_attributes(freshness_policy=DAILY_FRESHNESS)
        return spec

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=test_description(manifest["nodes"][unique_id]))
