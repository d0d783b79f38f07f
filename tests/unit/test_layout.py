"""The house plan, checked from the source: no import cycle, and each layer imports only its own.

Imports are read with `ast` (module level and inside functions alike; only `if TYPE_CHECKING:`
blocks are left out, as they never run), so nothing here imports the project.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "cli", "jobs", "services", "worker", "devstack", "bench", "evaluation", "ops")
TOOLING = ("devstack", "bench", "evaluation", "ops")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            modules[module_name(path)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(path: Path, module: str | None = None) -> set[str]:
    """Every module name `path` (the module `module`) imports; `from a import b` gives a, a.b."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = module or module_name(path)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_names(path) & modules.keys() - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_import_reader_skips_type_checking_blocks_and_reads_function_imports(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from worker.app import WorkerApp\n"
        "def f():\n    from services.errors import ModelLoadError\n"
    )
    assert imported_names(source, "pkg.mod") == {
        "typing",
        "typing.TYPE_CHECKING",
        "services.errors",
        "services.errors.ModelLoadError",
    }
    assert "worker.app" not in imported_names(REPO_ROOT / "worker" / "tasks.py")


def test_no_import_cycle_between_the_projects_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def _imports_of(package: str) -> dict[str, set[str]]:
    return {
        name: imported_names(path)
        for name, path in project_modules().items()
        if name == package or name.startswith(package + ".")
    }


def _offending(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in _imports_of(package).items()
        for name in names
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


@pytest.mark.parametrize(
    "package, forbidden",
    [
        # pure NLP: no web framework, no queue, no broker, no tooling
        ("services", ("flask", "celery", "redis", "kombu", "api", "worker", "jobs", *TOOLING)),
        # the API enqueues by task name: no model code, no torch
        ("api", ("torch", "transformers", "services", "worker", "onnxruntime", *TOOLING)),
        # the contract both sides import depends on neither side
        ("jobs", ("api", "worker", "services", "flask", "torch", *TOOLING)),
        ("worker", ("api", "flask", *TOOLING)),
    ],
)
def test_each_layer_imports_only_what_it_may(package, forbidden):
    assert _offending(package, forbidden) == []


def test_services_never_read_the_environment():
    for name, path in project_modules().items():
        if name.startswith("services"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                    pytest.fail(f"{name} reads the environment (os.{node.attr})")


def test_only_the_worker_entrypoint_builds_the_app_at_import():
    # worker.main is the one module Celery's -A imports; the app module only defines.
    app_source = (REPO_ROOT / "worker" / "app.py").read_text()
    tree = ast.parse(app_source)
    top_level_calls = [
        node
        for node in tree.body
        if isinstance(node, ast.Expr | ast.Assign) and isinstance(node.value, ast.Call)
    ]
    assert [ast.unparse(n) for n in top_level_calls] == ["logger = logging.getLogger(__name__)"]
    assert "create_app(WorkerSettings.from_env())" in (REPO_ROOT / "worker" / "main.py").read_text()


def test_the_contract_names_the_tasks_the_analyzer_runs():
    from jobs.contract import ANALYSIS_TASKS
    from services.analysis import TASKS

    assert ANALYSIS_TASKS == TASKS
