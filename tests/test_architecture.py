"""The package's architecture rules, checked on its source.

- the import-linter contracts of pyproject.toml (layers: cli on top,
  physics at the bottom; index, refine and model independent);
- no import cycle between modules;
- no private name (leading underscore) imported across sub-packages;
- modules of at most ~500 lines and functions of at most ~80 lines, except
  where a comment says why (``# long module: ...`` anywhere in the module,
  ``# long: ...`` on the line above the ``def`` or its decorators).
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "diffpy" / "crystalnet"
MAX_MODULE_LINES = 550
MAX_FUNCTION_LINES = 80


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(("diffpy", "crystalnet") + parts), path


def _package_imports(path, name):
    """(imported module, imported names, line) of package-internal imports."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + is_package]
                module = ".".join(base + ([module] if module else []))
            if module.startswith("diffpy.crystalnet"):
                names = [a.name for a in node.names]
                yield module, names, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("diffpy.crystalnet"):
                    yield alias.name, [], node.lineno


def _resolve(module, names, known):
    """The package modules an import statement loads."""
    out = {module} if module in known else set()
    for n in names:
        if f"{module}.{n}" in known:
            out.add(f"{module}.{n}")
    return out


def test_import_linter_contracts():
    pytest.importorskip("importlinter")
    import os
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command as c; c()",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_no_import_cycles():
    modules = dict(_modules())
    graph = {
        name: set().union(
            *(
                _resolve(m, n, modules)
                for m, n, _ in _package_imports(path, name)
            ),
            set(),
        )
        - {name}
        for name, path in modules.items()
    }
    # a package's __init__ importing its own modules is not a cycle
    for name in graph:
        graph[name] = {d for d in graph[name] if not name.startswith(d + ".")}
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_names_across_subpackages():
    bad = []
    for name, path in _modules():
        mine = name.split(".")[2:3]
        for module, names, line in _package_imports(path, name):
            theirs = module.split(".")[2:3]
            for n in names:
                if (
                    n.startswith("_")
                    and not n.startswith("__")
                    and (theirs != mine)
                ):
                    bad.append(f"{path.name}:{line} {module}.{n}")
    assert not bad, f"private names imported across sub-packages: {bad}"


def _long_functions(path):
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]
        if not body:
            continue
        length = node.end_lineno - body[0].lineno + 1
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        above = lines[first - 2].strip() if first >= 2 else ""
        if length > MAX_FUNCTION_LINES and not above.startswith("# long:"):
            yield f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"


def test_module_and_function_sizes():
    big, long = [], []
    for _, path in _modules():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES and (
            "# long module:" not in text
        ):
            big.append(str(path.relative_to(PACKAGE)))
        long.extend(_long_functions(path))
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_public_api_is_curated_and_lazy():
    import subprocess

    code = (
        "import sys; import diffpy.crystalnet as cn; "
        "assert 'torch' not in sys.modules; "
        "assert 'pymatgen.core' not in sys.modules; "
        "[getattr(cn, n) for n in cn.__all__]; print(len(cn.__all__))"
    )
    env_path = str(ROOT / "src")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": ""},
    )
    assert out.returncode == 0, out.stderr
    assert 15 <= int(out.stdout) <= 25
    import diffpy.crystalnet as cn

    for name in cn.__all__:
        assert getattr(cn, name).__doc__, f"{name} has no docstring"


def test_no_subpackage_shadows_a_public_name():
    import importlib

    import diffpy.crystalnet as cn

    for name, path in _modules():
        importlib.import_module(name)  # sets attributes on the parents
    for name in cn.__all__:
        value = getattr(cn, name)
        assert not isinstance(value, type(cn)), f"{name} is a module"
    assert callable(cn.solve) and callable(cn.SolveSettings)
