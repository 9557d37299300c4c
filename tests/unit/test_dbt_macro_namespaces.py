"""dbt's macro namespaces built quickly (orchestration/defs/dbt/macro_namespaces.py) must hold
what dbt's own builder gives them, for the project's manifest: every name a node's Jinja can call
resolves to a generator of the same macro, bound to the same context, node and call stack."""

import pytest
from dbt.clients.jinja import MacroGenerator, MacroStack
from dbt.context import macros
from dbt.contracts.graph.manifest import Manifest, WritableManifest

from orchestration.defs.dbt.macro_namespaces import build_namespaces_quickly
from orchestration.lib.settings import DBT_PROJECT_DIR

INTERNAL = ["dbt_duckdb", "dbt"]  # the adapter's macros before dbt's, as dbt orders them


@pytest.fixture(scope="module")
def macros_by_package():
    written = WritableManifest.read_and_check_versions(
        str(DBT_PROJECT_DIR / "target" / "manifest.json"))
    return Manifest.from_writable_manifest(written).get_macros_by_package()


def _described(value):
    """A namespace member as data: a package's namespace by name, a generator by what it binds."""
    if isinstance(value, dict):
        return {name: _described(member) for name, member in value.items()}
    assert type(value) is MacroGenerator
    return (value.macro.unique_id, id(value.context), value.node, id(value.stack))


def _namespace(macros_by_package, search_package, node, ctx, stack):
    builder = macros.MacroNamespaceBuilder("winback", search_package, stack, INTERNAL, node)
    namespace = builder.build_namespace(macros_by_package, ctx)
    flattened = {}
    flattened.update(namespace)  # what dbt's ManifestContext.to_dict does with it
    return {
        "context": _described(flattened),
        "names": sorted(namespace),
        "size": len(namespace),
        "local": _described(namespace.local_namespace),
        "root": _described(namespace.global_namespace),
        "packages": _described(namespace.packages),
        "internal": _described(namespace.global_project_namespace),
        "from_package": {(package, name): _described(namespace.get_from_package(package, name))
                         for package in (None, "dbt", "winback")
                         for name in ("generate_schema_name", "rename_relation",
                                      "as_of_date")
                         if namespace.get_from_package(package, name) is not None},
    }


@pytest.mark.parametrize("search_package", ["winback", "dbt", "dbt_duckdb"])
def test_a_quick_namespace_holds_what_dbts_builder_gives(monkeypatch, macros_by_package,
                                                         search_package):
    monkeypatch.setattr(macros.MacroNamespaceBuilder, "build_namespace",
                        macros.MacroNamespaceBuilder.build_namespace)
    ctx, stack, node = {}, MacroStack(), "model.winback.customer_activity"
    expected = _namespace(macros_by_package, search_package, node, ctx, stack)
    build_namespaces_quickly()
    build_namespaces_quickly()  # the server and the launcher may both call it: once is enough
    quick = _namespace(macros_by_package, search_package, node, ctx, stack)
    assert quick == expected
    # The project's macros win over dbt's and the adapter's: the project overrides
    # generate_schema_name, and the context resolves the name to the project's.
    assert expected["context"]["generate_schema_name"][0] == (
        "macro.winback.generate_schema_name")
    assert expected["size"] == len(expected["context"]) > 600


def test_each_namespace_has_generators_of_its_own(monkeypatch, macros_by_package):
    monkeypatch.setattr(macros.MacroNamespaceBuilder, "build_namespace",
                        macros.MacroNamespaceBuilder.build_namespace)
    build_namespaces_quickly()
    first = _namespace(macros_by_package, "winback", "model.a", {}, MacroStack())
    second = _namespace(macros_by_package, "winback", "model.b", {}, MacroStack())
    assert first["context"]["generate_schema_name"][2] == "model.a"
    assert second["context"]["generate_schema_name"][2] == "model.b"
    assert first["context"]["generate_schema_name"][1] != (
        second["context"]["generate_schema_name"][1])
