"""The package's folders show its data flow, and nothing imports upward (docs/design.md):
entry → run → methods/callbacks → analysis → evaluation → attacks/data/models/exact → plumbing.
A module may import from its own layer or any layer below it, never from one above."""

from __future__ import annotations

import ast
from pathlib import Path

import benign_lightning
from benign_lightning.reproduce.entry import Entry
from benign_lightning.reproduce.registry import ENTRIES

PACKAGE = Path(benign_lightning.__file__).parent

# Top to bottom. A name is a top-level module or folder of the package.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("entry", ("__main__", "__init__", "aggregate", "detect", "influence", "theory", "rare_examples",
               "reproduce", "export")),
    ("run", ("run", "config")),  # config validates by building (run.builders); a run validates its config
    ("training", ("methods", "callbacks")),
    ("analysis", ("analysis", "results")),  # results: the contract every reader reads
    ("evaluation", ("evaluation",)),
    ("blocks", ("attacks", "data", "models", "exact")),
    ("plumbing", ("plumbing",)),
)  # fmt: skip
LAYER_OF = {name: depth for depth, (_, names) in enumerate(LAYERS) for name in names}


def _top(module: str) -> str:
    """``benign_lightning.run.job`` → ``run``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``benign_lightning.*`` module a file imports, lazy imports inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("benign_lightning.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "benign_lightning":
                found += [(node.lineno, f"benign_lightning.{a.name}") for a in node.names]
            elif node.module.startswith("benign_lightning."):
                found.append((node.lineno, node.module))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "conf" not in p.relative_to(PACKAGE).parts)


def test_every_module_has_a_layer() -> None:
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()}
    assert tops <= set(LAYER_OF), f"modules or folders with no layer: {sorted(tops - set(LAYER_OF))}"


def test_nothing_imports_upward() -> None:
    upward = []
    for path in _modules():
        rel = path.relative_to(PACKAGE)
        mine = LAYER_OF[rel.parts[0].removesuffix(".py")]
        for line, module in _imports(path):
            theirs = LAYER_OF[_top(module)]
            if theirs < mine:
                upward.append(f"{rel}:{line} ({LAYERS[mine][0]}) imports {module} ({LAYERS[theirs][0]})")
    assert not upward, "imports upward:\n" + "\n".join(upward)


def _assigned(path: Path) -> list[str]:
    """The names a file assigns at its top level (not those it imports)."""
    tree = ast.parse(path.read_text())
    return [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
            if isinstance(t, ast.Name)]  # fmt: skip


def test_one_file_per_figure() -> None:
    """Each figure's entry, sweeps and claims live in their own ``reproduce/figures/<name>.py``, and
    every entry of that folder is in the registry: adding a figure is adding one file."""
    import importlib

    defined: dict[str, list[str]] = {}
    for path in sorted((PACKAGE / "reproduce" / "figures").glob("*.py")):
        module = importlib.import_module(f"benign_lightning.reproduce.figures.{path.stem}")
        own = [getattr(module, n).name for n in _assigned(path) if isinstance(getattr(module, n), Entry)]
        if own:
            defined[path.stem] = own
    assert all(len(names) == 1 for names in defined.values()), defined
    assert sorted(n for names in defined.values() for n in names) == sorted(e.name for e in ENTRIES)
