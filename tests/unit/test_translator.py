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


def _dbt_specs():
    from orchestration.defs.dbt.assets import DBT_ASSETS

    return DBT_ASSETS


def test_marts_carry_the_daily_freshness_policy_and_other_models_none():
    from orchestration.lib.freshness import DAILY_FRESHNESS

    policies = {key.path[0]: step.specs_by_key[key].freshness_policy
                for step in _dbt_specs() for key in step.keys}
    assert {schema for schema, policy in policies.items() if policy == DAILY_FRESHNESS} == {
        "activation", "activity", "contacts", "inactivity", "metrics"}
    assert policies["staging"] is None and policies["intermediate"] is None


def test_every_dbt_test_check_has_a_description():
    checks = [spec for step in _dbt_specs() for spec in step.check_specs]
    assert checks and all(spec.description for spec in checks)
    by_name = {spec.name: spec.description for spec in checks}
    assert by_name["assert_sync_members_are_not_erased"] == (
        "Erasure rule: no audience member has an erasure request, whatever its date.")


@pytest.mark.parametrize(
    ("test", "description"),
    [
        ({"name": "t", "description": "Own words.", "test_metadata": {"name": "unique"}},
         "Own words."),
        ({"name": "t", "test_metadata": {"name": "unique", "kwargs": {"column_name": "id"}}},
         "`id` is unique."),
        ({"name": "t", "test_metadata": {"name": "not_null", "kwargs": {"column_name": "id"}}},
         "`id` is never null."),
        ({"name": "t", "test_metadata": {"name": "accepted_values", "kwargs": {
            "column_name": "status", "values": ["a", "b"]}}}, "`status` is one of a, b."),
        ({"name": "t", "test_metadata": {"name": "unique_combination_of_columns", "kwargs": {
            "combination_of_columns": ["a", "b"]}}}, "(a, b) is unique."),
        ({"name": "t", "test_metadata": {"name": "relationships", "kwargs": {
            "column_name": "cid", "field": "id", "model": "m"}}},
         "dbt test relationships on `cid` (field=id)."),
        ({"name": "t", "raw_code": "{{ config() }}\n-- No member\n--  is erased.\nselect 1"},
         "No member  is erased."),
        ({"name": "assert_x", "raw_code": "select 1"}, "dbt test assert_x: returns no rows."),
    ],
)
def test_a_test_without_a_description_gets_one_from_its_comment_or_its_arguments(test,
                                                                                   description):
    from orchestration.defs.dbt.translator import test_description

    assert test_description(test) == description
