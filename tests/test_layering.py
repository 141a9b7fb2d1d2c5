"""The package's layers import one way only, and no two modules import each other at import time.

Read from the source with ``ast`` (nothing is imported, so this stays fast and a broken module cannot hide
its imports). Counted as imports: ``import``/``from ... import`` at any depth (inside functions too, relative ones
resolved), ``importlib.import_module(...)`` and ``__import__(...)`` of a string; a dynamic import whose module the
test cannot find among the module's string constants fails, so that no import goes unseen.

Layers (a sub-package, or a top-level module) and what each may import besides itself:

    coords -> io -> (flow, synthetic) -> preprocess -> model -> (train, track) -> config; track -> viz

with ``model`` importing only ``coords`` and ``io`` (its factory loads checkpoints; the models compute on the
tensors they are given), ``track`` not importing ``train`` (tracking a checkpoint needs no trainer), and
``flow``/``synthetic`` siblings that do not import each other. ``config`` composes every stage's section
(preprocessing, model, training, tracking) and is read by the entry points, so it sits above ``train`` and
``track``. ``eval`` and ``batch`` stand beside the pipeline: they may import every pipeline layer and ``config`` but
not ``api``, ``cli`` or ``view``; ``batch`` may import ``eval`` (it runs the evaluation's jobs on Ray), not the
other way round. ``pipeline`` (the three stages of ``run``) stands on the pipeline layers and is shared by
``batch``, ``cli`` and the public API. ``view`` sits on ``track``/``viz``; the public API (``api.py`` and the
package ``__init__``) and ``cli`` are on top. The package root itself (``omnimotion/__init__``: ``__version__`` and
exports loaded on first use) may be imported from anywhere, as long as it loads nothing when imported; a name taken
from it (``from omnimotion import Tracker``) counts as an import of the module that defines the name.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "omnimotion"
ROOT = "omnimotion"

_FOUNDATION = {"coords", "io", "flow", "synthetic"}
_INFERENCE = _FOUNDATION | {"preprocess", "model"}
_PIPELINE = _INFERENCE | {"train", "track", "viz", "config"}

ALLOWED: dict[str, set[str]] = {
    "coords": set(),
    "io": {"coords"},
    "flow": {"coords", "io"},
    "synthetic": {"coords", "io"},
    "preprocess": _FOUNDATION,
    "model": {"coords", "io"},
    "train": _FOUNDATION | {"preprocess", "model"},
    "config": _INFERENCE | {"train", "track"},  # composes every stage's section, tracking's included
    "track": _INFERENCE,
    "viz": _INFERENCE | {"track"},
    "eval": _PIPELINE,
    "pipeline": _PIPELINE,  # the three stages of run, shared by api and batch
    "batch": _PIPELINE | {"eval", "pipeline"},
    "view": _INFERENCE | {"track", "viz"},
    "api": _PIPELINE | {"pipeline", "eval", "batch", "view"},
    "cli": _PIPELINE | {"pipeline", "eval", "batch", "view", "api"},
}

@dataclass(frozen=True)
class Import:
    importer: str  # dotted name of the importing module
    target: str  # dotted name of the imported module
    lineno: int
    at_import_time: bool  # runs when the importer is imported (not inside a function, not TYPE_CHECKING)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join((ROOT, *parts[:-1])) if parts[-1] == "__init__" else ".".join((ROOT, *parts))


@functools.cache
def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> str:
    """The layer of a module: its sub-package or top-level module; the package root belongs to the API."""
    parts = module.split(".")
    return "api" if len(parts) == 1 else parts[1]


def _file(module: str) -> str:
    return _modules()[module].relative_to(PACKAGE).as_posix()


@functools.cache
def _lazy_exports() -> dict[str, str]:
    """The package root's ``_HOMES``: exported name -> module that defines it."""
    tree = ast.parse(_modules()[ROOT].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_HOMES" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


class _ImportFinder(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool):
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.depth = 0  # > 0 inside a function body or an ``if TYPE_CHECKING:`` block
        self.imports: list[Import] = []
        self.computed: list[tuple[int, str, bool]] = []  # (line, call, at import time) of computed names
        self.strings: set[str] = set()

    def _add(self, target: str, node: ast.AST) -> None:
        if target == ROOT or target.startswith(ROOT + "."):
            self.imports.append(Import(self.module, target, node.lineno, self.depth == 0))

    def _nested(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _nested

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            self._nested(node)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in _modules():
                self._add(submodule, node)
            elif base == ROOT and alias.name in _lazy_exports():
                self._add(_lazy_exports()[alias.name], node)
            else:
                self._add(base, node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and node.value.startswith(ROOT + "."):
            self.strings.add(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in ("import_module", "__import__") and node.args:
            self._dynamic(node, node.args[0])
        self.generic_visit(node)

    def _dynamic(self, node: ast.Call, argument: ast.expr) -> None:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            name = argument.value
            if name.startswith("."):  # import_module(".x", __package__): relative to this package
                level = len(name) - len(name.lstrip("."))
                parts = self.package.split(".")
                name = ".".join(parts[:len(parts) - level + 1] + [name.lstrip(".")])
            self._add(name, node)
        else:  # a computed name: resolved after the walk from the module's own string constants
            self.computed.append((node.lineno, ast.unparse(node), self.depth == 0))


@functools.cache
def _scan(module: str) -> tuple[tuple[Import, ...], tuple[str, ...]]:
    """(imports of ``module``, dynamic imports the test cannot follow)."""
    path = _modules()[module]
    finder = _ImportFinder(module, path.name == "__init__.py")
    finder.visit(ast.parse(path.read_text()))
    imports = list(finder.imports)
    # a computed name is taken to be any of the module names the module spells out (e.g. a table of commands)
    candidates = sorted(s for s in finder.strings if s in _modules())
    for lineno, _, at_import_time in finder.computed:
        imports += [Import(module, target, lineno, at_import_time) for target in candidates]
    unfollowed = [f"line {lineno}: {call}" for lineno, call, _ in finder.computed if not candidates]
    return tuple(imports), tuple(unfollowed)


def _all_imports() -> list[Import]:
    return [imp for module in _modules() for imp in _scan(module)[0]]


def _breaks_layers(imp: Import) -> bool:
    own, other = _layer(imp.importer), _layer(imp.target)
    return imp.target != ROOT and other != own and other not in ALLOWED.get(own, set())


def test_every_layer_is_placed():
    layers = {_layer(module) for module in _modules()}
    assert layers <= set(ALLOWED), f"place the new layers {sorted(layers - set(ALLOWED))} in ALLOWED"
    assert set().union(*ALLOWED.values()) <= set(ALLOWED)


def test_imports_follow_the_layers():
    problems = []
    for module in _modules():
        imports, unfollowed = _scan(module)
        problems += [f"{_file(module)}: dynamic import of a computed name: {text}" for text in unfollowed]
        for imp in imports:
            if imp.target not in _modules():
                problems.append(f"{_file(module)}:{imp.lineno} imports {imp.target}, which is no module")
            elif _breaks_layers(imp):
                problems.append(f"{_file(module)}:{imp.lineno} imports {imp.target}: layer {_layer(module)!r} "
                                f"may import only {sorted(ALLOWED[_layer(module)])}")
    assert not problems, "\n".join(problems)


def test_package_root_loads_nothing_on_import():
    eager = [imp for imp in _scan(ROOT)[0] if imp.at_import_time]
    assert not eager, f"omnimotion/__init__.py must import its exports on first use, not {eager}"


def _executed(imp: Import) -> list[str]:
    """Modules whose code runs when ``imp`` is executed: the target and those of its packages that are not
    already being imported around the importer (the importer's own packages and the lazy root)."""
    parts = imp.target.split(".")
    chain = [".".join(parts[:i]) for i in range(2, len(parts) + 1)]
    return [m for m in chain if m in _modules() and not (imp.importer + ".").startswith(m + ".")]


def test_no_import_cycles():
    graph: dict[str, set[str]] = {module: set() for module in _modules()}
    for imp in _all_imports():
        if imp.at_import_time:
            graph[imp.importer].update(m for m in _executed(imp) if m != imp.importer)
    cycles = [sorted(component) for component in _strongly_connected(graph) if len(component) > 1]
    assert not cycles, f"modules importing each other when imported: {cycles}"


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components
