import dagster as dg
import pytest

from orchestration.defs.dbt.translator import WinbackDbtTranslator


@pytest.mark.parametrize(
    ("props", "key", "group"),
    [
        ({"resource_type": "source", "schema": "raw", "name": "orders", "identifier": "orders",
          "config": {}}, ["raw", "orders"], "raw"),
        ({"resource_type": "source", "schema": "hygiene", "name": "email_checks",
          "identifier": None, "config": {}}, ["hygiene", "email_checks"], "hygiene"),
        ({"resource_type": "model", "schema": "main", "name": "stg_shop__orders",
          "config": {"schema": "staging"}}, ["staging", "stg_shop__orders"], "staging"),
        ({"resource_type": "model", "schema": "main", "name": "customer_activity",
          "config": {"schema": "activity"}}, ["activity", "customer_activity"], "activity"),
        ({"resource_type": "model", "schema": "main", "name": "loose_model",
          "config": {"schema": None}}, ["main", "loose_model"], "main"),
    ],
)
def test_schema_is_both_key_prefix_and_group(props, key, group):
    translator = WinbackDbtTranslator()
    assert translator.get_asset_key(props) == dg.AssetKey(key)
    assert translator.get_group_name(props) == group
