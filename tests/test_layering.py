"""Lower layers never import higher ones (house rule 1 in the style guide)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "omnimotion"

# Rank of each sub-package; a module may import only ranks <= its own (eval and cli sit on top).
RANKS = {
    "coords": 0, "io": 1, "synthetic": 2, "flow": 2, "preprocess": 3, "model": 4, "train": 5,
    "track": 6, "viz": 7, "eval": 8, "config": 8, "api": 9, "batch": 9, "view": 9, "cli": 10,
}


def _layer(module_path: Path) -> str:
    parts = module_path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0] if parts[0] != "__init__" else "api"


def _imported_layers(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "omnimotion" and len(parts) > 1:
                yield parts[1], node.lineno


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_imports(path):
    layer = _layer(path)
    assert layer in RANKS, f"{path} is in an unknown layer {layer!r}; add it to RANKS"
    for imported, lineno in _imported_layers(path):
        assert imported in RANKS, f"{path}:{lineno} imports unknown layer {imported!r}"
        assert RANKS[imported] <= RANKS[layer], (
            f"{path.relative_to(PACKAGE)}:{lineno} imports omnimotion.{imported} from a lower layer")
