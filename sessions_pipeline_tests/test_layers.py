"""The package's layers are its folders, and imports only go down: entry points use the
Dagster definitions, which use LevelUp's files, which use the rules. A newcomer can then
trust a folder's name to say what a module may touch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "sessions_pipeline"
LAYERS = ["rules", "levelup", "orchestration", "entry_points"]
"""From the bottom up: a module may import its own layer and those before it."""


def imported_layers(module: Path) -> set[str]:
    """The layers a module imports, at any depth of its code (lazy imports included)."""
    layers = set()
    for node in ast.walk(ast.parse(module.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "sessions_pipeline" and len(parts) > 1 and parts[1] in LAYERS:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_itself_and_the_layers_below(layer: str) -> None:
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    upward = {
        str(module.relative_to(PACKAGE)): sorted(imported_layers(module) - allowed)
        for module in (PACKAGE / layer).rglob("*.py")
        if imported_layers(module) - allowed
    }
    assert upward == {}


def test_every_module_is_in_a_layer() -> None:
    """Only the package's face (load_sessions, defs) and the errors every layer raises sit
    beside the layer folders."""
    loose = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "errors.py"]
    assert {
        path.name for path in PACKAGE.iterdir() if path.is_dir() and path.name != "__pycache__"
    } == set(LAYERS)
