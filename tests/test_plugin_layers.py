"""The suites' plugin is a list of layers in order: every module is either a layer or a helper, a layer imports
only layers before it (never a later one), and a helper imports no layer."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import netattest.plugin as plugin

PACKAGE = Path(plugin.__file__).parent
HELPERS = {"outcome"}  # shared functions, not plugins


def plugin_imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("netattest.plugin."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.ImportFrom) and node.module == "netattest.plugin":
            found.update(alias.name for alias in node.names)
    return found


def test_every_module_is_a_layer_or_a_helper() -> None:
    modules = {info.name for info in pkgutil.iter_modules([str(PACKAGE)])}
    assert modules == set(plugin.LAYERS) | HELPERS
    assert len(plugin.LAYERS) == len(set(plugin.LAYERS))


def test_no_layer_reaches_into_a_later_one() -> None:
    order = {layer: n for n, layer in enumerate(plugin.LAYERS)}
    later = {layer: sorted(m for m in plugin_imports(layer) if m in order and order[m] >= order[layer])
             for layer in plugin.LAYERS}
    assert {layer: mods for layer, mods in later.items() if mods} == {}
    assert {helper: plugin_imports(helper) & set(order) for helper in HELPERS} == {h: set() for h in HELPERS}


def test_same_priority_hooks_run_in_layer_order() -> None:
    import pytest

    manager = pytest.PytestPluginManager()
    plugin.register_layers(manager)
    callers = [impl.plugin_name.rsplit(".", 1)[-1] for impl in manager.hook.pytest_configure.get_hookimpls()
               if not impl.tryfirst and not impl.trylast and impl.plugin_name.startswith("netattest.plugin.")]
    assert callers, "some layer configures without a priority"
    # pluggy returns implementations in call order reversed (the last one listed is called first)
    called = list(reversed(callers))
    assert called == sorted(called, key=plugin.LAYERS.index)
