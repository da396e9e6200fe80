"""Production code imports no sandbox and no developer tooling.

import-linter (the other contracts, in pyproject.toml) cannot say this one: each provider's
sandbox lives inside its provider's package, and import-linter does not police imports within a
package. So this test asks the same import graph (grimp, import-linter's engine) directly: no
chain of imports leads from a production module to a sandbox or devtools module.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGE = "lineup_integrations"
# The composition root that also launches the sandbox and the demo (`lineup-integrations sandbox|demo`).
ENTRY_POINTS = {f"{PACKAGE}.cli"}


def _is_tooling(module: str) -> bool:
    parts = module.split(".")
    return "sandbox" in parts or "devtools" in parts


@pytest.fixture
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE)


def tooling_chains(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Every import chain from a production module to a sandbox or devtools module."""
    tooling = {module for module in graph.modules if _is_tooling(module)}
    production = {module for module in graph.modules if not _is_tooling(module)} - ENTRY_POINTS
    assert tooling and production  # the split itself is real
    return [
        chain
        for module in sorted(production)
        for target in sorted(tooling)
        if (chain := graph.find_shortest_chain(importer=module, imported=target))
    ]


def test_no_production_module_reaches_a_sandbox_or_developer_tooling(graph: grimp.ImportGraph) -> None:
    assert tooling_chains(graph) == []


def test_an_import_of_a_providers_own_sandbox_is_found(graph: grimp.ImportGraph) -> None:
    """The blind spot of import-linter's forbidden contracts: an import inside one provider package."""
    graph.add_import(importer=f"{PACKAGE}.zoho.resource", imported=f"{PACKAGE}.zoho.sandbox.crm")

    assert (f"{PACKAGE}.zoho.resource", f"{PACKAGE}.zoho.sandbox.crm") in tooling_chains(graph)
