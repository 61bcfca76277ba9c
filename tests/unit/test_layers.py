"""The architecture, from the code's own imports: opskit's folders form layers, each folder
imports only from folders below it, and no modules import each other in a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

OPSKIT = Path(__file__).resolve().parents[2] / "opskit"

# rank of each folder: a folder may import from folders of a lower rank (and from itself)
LAYERS = {
    "core": 0,
    "kube": 1,
    "toolchain": 1,
    "services": 1,
    "manifests": 2,
    "secrets": 2,
    "clusters": 3,
    "images": 3,
    "deploy": 4,
    "diff": 4,
    "gitops": 4,
    "lint": 4,
    "platform": 5,  # the platform as pods on the real node: builds on gitops
    "tasks": 6,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(OPSKIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every opskit module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("opskit."))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opskit"):
            for alias in node.names:  # `from opskit.x import y`: y is a module or a name of x
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found


MODULES = {module_name(p): p for p in OPSKIT.rglob("*.py")}
GRAPH = {name: imports(path) & MODULES.keys() for name, path in MODULES.items()}


def folder(module: str) -> str:
    """The folder of opskit a module is in ("" for opskit itself and its top-level modules)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (OPSKIT / parts[1]).is_dir()) else ""


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other in a circle, each sorted."""
    reach = {node: reachable(graph, node) for node in graph}
    groups = {
        tuple(sorted({node} | {o for o in reach[node] if node in reach.get(o, ())}))
        for node in graph
        if node in reach[node]
    }
    return sorted(list(group) for group in groups if len(group) > 1)


def _pairs(modules: Iterable[str]) -> list[tuple[str, str]]:
    return [(m, t) for m in sorted(modules) for t in sorted(GRAPH[m])]


def test_every_folder_has_a_layer():
    folders = {p.name for p in OPSKIT.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(LAYERS)


def test_folders_import_only_from_lower_layers():
    upward = [
        f"{m} -> {t}"
        for m, t in _pairs(m for m in MODULES if folder(m))
        if folder(t) and folder(t) != folder(m) and LAYERS[folder(t)] >= LAYERS[folder(m)]
    ]
    assert upward == []


def test_modules_at_the_top_use_only_core():
    top = [m for m in MODULES if m != "opskit" and not folder(m)]
    assert top, "expected opskit/testsummary.py"
    assert [f"{m} -> {t}" for m, t in _pairs(top) if folder(t) != "core"] == []


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e", "d"}, "f": {"g"}}
    assert cycles(graph) == [["a", "b", "c"]]
    graph["g"] = {"f"}
    assert cycles(graph) == [["a", "b", "c"], ["f", "g"]]


def test_every_module_imports():
    """Many imports run only inside functions: importing each module at least runs its top
    level, and every `from opskit.x import y` must name something x has."""
    import importlib

    missing = []
    for name, path in sorted(MODULES.items()):
        importlib.import_module(name)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opskit"):
                source = importlib.import_module(node.module)
                missing += [
                    f"{name}: {node.module}.{alias.name}"
                    for alias in node.names
                    if not hasattr(source, alias.name)
                    and f"{node.module}.{alias.name}" not in MODULES
                ]
    assert missing == []


# the speed layer: the in-process API client is read only through its seam
IN_PROCESS = "opskit.kube.api"
SEAM = "opskit.kube.reads"


def outside_the_seam(graph: dict[str, set[str]]) -> list[str]:
    """Modules other than the seam that import the in-process client (at the top, inside a
    function or for types only: each would see how a read is made)."""
    return sorted(m for m, targets in graph.items() if IN_PROCESS in targets and m != SEAM)


def test_only_the_seam_imports_the_in_process_client():
    assert IN_PROCESS in GRAPH[SEAM]
    assert outside_the_seam(GRAPH) == []


def test_an_import_of_the_client_outside_the_seam_is_found(tmp_path):
    source = tmp_path / "rollout.py"
    source.write_text("def read(kube):\n    from opskit.kube import api\n    return api\n")
    typed = tmp_path / "status.py"
    typed.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import opskit.kube.api\n"
    )
    graph = dict(GRAPH)
    graph["opskit.kube.rollout"] = imports(source)
    graph["opskit.diff.status"] = imports(typed)
    assert outside_the_seam(graph) == ["opskit.diff.status", "opskit.kube.rollout"]
