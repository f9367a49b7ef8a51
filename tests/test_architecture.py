"""The house rules of the package's structure, read from its source.

- No module imports another module's underscore names or reaches into another object's
  privates (`x._thing` where `x` is not `self`/`cls`).
- No import cycle among the modules, counting only imports that run when a module loads.
- aiohttp's client exceptions are caught in two modules only (the GraphQL transport and the
  storage boundary); `backoff` is imported in one; no other module contains a retry loop.
- `import aio_move_ugc` loads no bulk, webhook server, rich, graphql-core or emulator module, and
  no pydantic model (they load with the first resource used).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aio_move_ugc"
CLIENT_SIDE = [
    p
    for p in sorted(PACKAGE.rglob("*.py"))
    if "emulator" not in p.parts and p.name != "webhooks.py"
]
"""The SDK proper: the emulator and the webhook receiver are servers with rules of their own."""


STDLIB_PRIVATE = {"os._exit"}
"""Underscore names of the standard library that are its public API."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an `ImportFrom` imports from."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    if node.level:
        package = package[: len(package) - (node.level - 1)]
        return ".".join(package + ([node.module] if node.module else []))
    return node.module or ""


def is_module(name: str) -> bool:
    target = PACKAGE.parent / name.replace(".", "/")
    return target.with_suffix(".py").exists() or (target / "__init__.py").exists()


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_module_uses_another_modules_private_names() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE)
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.ImportFrom):
                source = resolve(path, node)
                if not source.startswith("aio_move_ugc"):
                    continue
                for alias in node.names:
                    if private(alias.name) and not is_module(f"{source}.{alias.name}"):
                        found.append(f"{where}:{node.lineno} imports {alias.name}")
            elif isinstance(node, ast.Attribute) and private(node.attr):
                owner = node.value
                if ast.unparse(node) in STDLIB_PRIVATE:
                    continue
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    found.append(f"{where}:{node.lineno} reaches {ast.unparse(node)}")
    assert found == []


def runtime_imports(path: Path) -> set[str]:
    """Package modules `path` imports when it loads (not under TYPE_CHECKING, not in
    functions: those run later, once everything is loaded)."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.ImportFrom):
                source = resolve(path, node)
                if source.startswith("aio_move_ugc"):
                    for alias in node.names:
                        full = f"{source}.{alias.name}"
                        found.add(full if is_module(full) else source)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("aio_move_ugc"))
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        visit([child])

    visit(parsed(path).body)
    return found


def test_no_import_cycle_at_run_time() -> None:
    graph = {module_name(p): runtime_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}
    # A package's `__init__` runs before its modules: importing `a.b` also imports `a`.
    for name in list(graph):
        graph[name] = {target for target in graph[name] if target != name and target in graph} - {
            name.rsplit(".", 1)[0]
        }
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                walk(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert cycles == []


def catches_aiohttp(path: Path) -> bool:
    for node in ast.walk(parsed(path)):
        if (
            isinstance(node, ast.ExceptHandler)
            and node.type is not None
            and "aiohttp" in ast.unparse(node.type)
        ):
            return True
        if isinstance(node, ast.Assign) and "aiohttp.Client" in ast.unparse(node.value):
            return True  # a tuple of exceptions named for a later `except`
    return False


def test_aiohttp_errors_are_mapped_in_two_modules_only() -> None:
    catching = {str(p.relative_to(PACKAGE)) for p in CLIENT_SIDE if catches_aiohttp(p)}
    assert catching == {"_transport.py", "transfers/storage.py"}


def test_backoff_is_used_in_one_module_and_only_it_loops_on_failures() -> None:
    importing = set()
    looping = set()
    for path in CLIENT_SIDE:
        tree = parsed(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] == "backoff" for n in names):
                    importing.add(path.name)
            # A retry loop: a loop around a try that awaits something and, on failure, goes
            # round again (a `continue` in the handler, or a handler that does not leave).
            if isinstance(node, ast.For | ast.While):
                for inner in ast.walk(node):
                    if not isinstance(inner, ast.Try):
                        continue
                    awaits = any(isinstance(x, ast.Await) for b in inner.body for x in ast.walk(b))
                    goes_round = any(
                        isinstance(x, ast.Continue) for h in inner.handlers for x in ast.walk(h)
                    ) or any(
                        not any(isinstance(x, ast.Raise | ast.Return | ast.Break) for x in h.body)
                        for h in inner.handlers
                    )
                    if awaits and goes_round:
                        looping.add(str(path.relative_to(PACKAGE)))
    assert importing == {"_retry.py"}
    # watch.py is the polling engine: its rounds go on after a failed round by design.
    assert looping <= {"_retry.py", "watch.py"}, looping


@pytest.mark.parametrize(
    "heavy",
    [
        "aio_move_ugc.bulk",
        "aio_move_ugc.webhooks",
        "aiohttp.web",
        "rich",
        "graphql",
        # The models: building pydantic classes is most of an import's cost; they load with
        # the first resource used (or the first model imported).
        "aio_move_ugc.types._models",
        "aio_move_ugc.resources",
        "pydantic.main",
    ],
)
def test_importing_the_package_leaves_heavy_modules_unloaded(heavy: str) -> None:
    code = (
        "import sys, aio_move_ugc; "
        f"loaded = [m for m in sys.modules if m == {heavy!r} or m.startswith({heavy!r} + '.')]; "
        "emulator = [m for m in sys.modules if m.startswith('aio_move_ugc.emulator')]; "
        "print(loaded + emulator)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_every_lazy_name_of_the_package_resolves() -> None:
    """What `import aio_move_ugc` defers still imports, under the name it is exported as."""
    code = (
        "import aio_move_ugc, aio_move_ugc.types as t; "
        "missing = [n for n in aio_move_ugc.__all__ if getattr(aio_move_ugc, n, None) is None]; "
        "missing += [n for n in t.__all__ if getattr(t, n, None) is None]; "
        "print(missing)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
