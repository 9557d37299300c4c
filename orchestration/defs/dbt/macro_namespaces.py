"""dbt's macro namespaces built without dbt's per-macro bookkeeping.

Each time dbt renders Jinja for a node (compiling it, running its materialization) or runs an
adapter macro (a relation lookup, a rename), it builds a context holding a MacroGenerator for
every macro of the manifest (646 here: dbt's, the adapter's, the project's), one `add_macro`
call each, and then copies them into the context's dict through `MacroNamespace`'s search order,
key by key. A dbt step builds ~220 such contexts, and in a warm run on tiny data that was
~17 % of the forked dbt steps' CPU (py-spy; benchmarks/README.md).

`build_namespaces_quickly` replaces `MacroNamespaceBuilder.build_namespace` with one that makes
the same generators (same macro, context, node and call stack) a package at a time and returns a
`MacroNamespace` whose lookups read one dict, flattened once in dbt's search order: the node's
own package, the root project, other packages (by package name), `dbt` (the internal
namespace), then the internal macros. What a name resolves to is what dbt's search order gives;
what a macro does when called is dbt's. The dbt fork server (for itself and every child) and
`winback-dbt` without a server call it before dbt runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def build_namespaces_quickly() -> None:
    from dbt.clients.jinja import MacroGenerator
    from dbt.context import macros
    from dbt.include.global_project import PROJECT_NAME

    if getattr(macros.MacroNamespaceBuilder.build_namespace, "quick", False):
        return

    class FlatMacroNamespace(macros.MacroNamespace):
        """dbt's MacroNamespace with its search order resolved once."""

        def __init__(self, *namespaces: Any) -> None:
            super().__init__(*namespaces)
            flat: dict[str, Any] = dict(self.global_project_namespace)
            flat[PROJECT_NAME] = self.global_project_namespace
            flat.update(self.packages)
            flat.update(self.global_namespace)
            flat.update(self.local_namespace)
            self._flat = flat

        def __getitem__(self, key: str) -> Any:
            return self._flat[key]

        def __contains__(self, key: object) -> bool:
            return key in self._flat

        def __iter__(self) -> Iterator[str]:
            return iter(self._flat)

        def __len__(self) -> int:
            return len(self._flat)

        def keys(self) -> Any:
            return self._flat.keys()

    new = object.__new__

    def build_namespace(self: macros.MacroNamespaceBuilder,
                        macros_by_package: dict[str, dict[str, Any]],
                        ctx: dict[str, Any]) -> macros.MacroNamespace:
        node, stack = self.node, self.thread_ctx
        for package, package_macros in macros_by_package.items():
            made = {}
            for name, macro in package_macros.items():
                generator = new(MacroGenerator)
                generator.__dict__ = {"context": ctx, "macro": macro, "node": node,
                                      "stack": stack}
                made[name] = generator
            if package in self.internal_package_names:
                self.internal_packages.setdefault(package, {}).update(made)
                continue
            self.packages.setdefault(package, {}).update(made)
            if package == self.search_package:
                self.locals.update(made)
            elif package == self.root_package:
                self.globals.update(made)
        internal: dict[str, Any] = {}
        for package in reversed(self.internal_package_names_order):
            internal.update(self.internal_packages.get(package, {}))
        return FlatMacroNamespace(self.globals, self.locals, internal, self.packages)

    build_namespace.quick = True  # type: ignore[attr-defined]
    macros.MacroNamespaceBuilder.build_namespace = build_namespace  # type: ignore[method-assign]
