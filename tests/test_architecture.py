"""The package's import structure: no import cycle, and no layer importing a higher one.

Every module of tinyseq is parsed with `ast` (nothing is imported), and every import statement
counts, also those inside functions. Modules are placed in layers by their package path, so
modules that are added, split or moved need no change here as long as they stay in a package
listed in LAYERS.

Run it with:  .venv/bin/python -m pytest tests/test_architecture.py -q
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tinyseq"

# Bottom up, as in the package docstring. A module belongs to the longest prefix listed here.
LAYERS = {
    # the autograd core, and helpers that import nothing from tinyseq
    "tinyseq.tensor": 0, "tinyseq.random": 0, "tinyseq.threads": 0, "tinyseq.registry": 0, "tinyseq.files": 0, "tinyseq.checks": 0,
    # primitive and composite ops; the package root re-exports the engine (its other names are
    # imported on first use, by importlib, which no layer below sees)
    "tinyseq": 1, "tinyseq.ops": 1, "tinyseq.functional": 1, "tinyseq.gradcheck": 1,
    "tinyseq.nn": 2, "tinyseq.layers": 2, "tinyseq.losses": 2, "tinyseq.metrics": 2, "tinyseq.optimizers": 2,
    "tinyseq.schedules": 2, "tinyseq.session": 2,
    "tinyseq.models": 3, "tinyseq.callbacks": 3,
    "tinyseq.datasets": 4, "tinyseq.preprocessing": 4, "tinyseq.viz": 4, "tinyseq.experiments": 4,
    "tinyseq.exercises": 4, "tinyseq.course": 4, "tinyseq.utils": 4,
    "tinyseq.apps": 5,
}

# Keras's import paths, kept for users; code inside tinyseq imports from where things are defined.
SHIMS = {"tinyseq.layers", "tinyseq.callbacks", "tinyseq.utils"}


def module_files():
    """tinyseq's modules by dotted name: (path, whether it is a package's __init__)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def imports_of(name, path, is_package, known):
    """The tinyseq modules that module `name` imports, anywhere in its code."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            # `from package import name` imports the submodule `name` if there is one
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import tinyseq.nn.core as core` and the like
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph():
    known = module_files()
    return {name: imports_of(name, path, is_package, known) for name, (path, is_package) in known.items()}


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None; iterative depth-first search."""
    state = {}  # absent: unvisited, 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(following) == 1:
                return path[path.index(following):] + [following]
            elif following not in state:
                state[following] = 1
                path.append(following)
                stack.append(iter(sorted(graph[following])))
    return None


def layer_of(module):
    """The layer of the longest package path in LAYERS that holds `module` (the root "tinyseq"
    holds only itself, so a new top-level module must be placed explicitly)."""
    prefix = module
    while "." in prefix and prefix not in LAYERS:
        prefix = prefix.rpartition(".")[0]
    return LAYERS.get(prefix) if prefix == module or prefix != "tinyseq" else None


def test_the_graph_sees_relative_absolute_and_function_level_imports():
    graph = import_graph()
    assert "tinyseq.tensor" in graph["tinyseq.ops"]  # from .tensor import ...
    assert "tinyseq.nn.core" in graph["tinyseq.nn"]  # from .core import ... in a package __init__
    assert {"tinyseq.checks", "tinyseq.ops"} <= graph["tinyseq.nn.core"]  # from .. import checks, ops
    assert "tinyseq.models.saving" in graph["tinyseq.models.callbacks"]


def test_find_cycle_reports_a_cycle_through_function_level_imports(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    source = tmp_path / "module.py"
    source.write_text("def later():\n    from .sibling import thing\n")
    assert imports_of("tinyseq.x.module", source, False, {"tinyseq.x.sibling"}) == {"tinyseq.x.sibling"}


def test_no_import_cycle_anywhere_in_tinyseq():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_has_a_layer():
    unplaced = sorted(module for module in import_graph() if layer_of(module) is None)
    assert not unplaced, f"add these modules' packages to LAYERS in {Path(__file__).name}: {unplaced}"


def test_no_module_imports_a_higher_layer():
    upward = [f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
              for module, targets in sorted(import_graph().items()) for target in sorted(targets)
              if None not in (layer_of(module), layer_of(target)) and layer_of(target) > layer_of(module)]
    assert not upward, "\n".join(upward)


def test_internal_code_does_not_import_through_the_keras_shims():
    through_shims = [f"{module} imports {target}" for module, targets in sorted(import_graph().items())
                     for target in sorted(targets & SHIMS) if module != "tinyseq"]
    assert not through_shims, ("import from where things are defined (tinyseq.nn..., tinyseq.models.callbacks): "
                               + "; ".join(through_shims))


@pytest.mark.parametrize("module, layer", [("tinyseq.nn.fused.kernels", 2), ("tinyseq.apps.cli", 5),
                                           ("tinyseq.models.saving", 3), ("tinyseq", 1), ("tinyseq.newcomer", None),
                                           ("elsewhere", None)])
def test_layers_come_from_package_paths(module, layer):
    assert layer_of(module) == layer
