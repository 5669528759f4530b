"""The code's shape, read from the source (nothing is imported): no import cycle between the
project's modules, `index` free of Discord and the bot, and no module too long to read.

Every module of `bot/` and `index/` counts, subpackages included (found by walking the folders,
so a new package is checked without touching this file).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("index", "bot")
MAX_LINES = 450
# A module may be longer when its docstring says why, on a line like
# "This module is over 450 lines because ...".
LONG_REASON = f"over {MAX_LINES} lines because"


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported: module level, and inside
    `if`/`try`/`with`/class bodies, which run then too. Not those under `if TYPE_CHECKING:`
    (never run), and not those inside functions: a function's import runs when it is called,
    after every module involved has finished importing, so it cannot take part in an import-time
    cycle (that is how a module defers an import on purpose)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not is_type_checking(node.test):
                yield from runtime_imports(node.body)
            yield from runtime_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from runtime_imports(block)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from runtime_imports(node.body)


def ancestors(name: str) -> list[str]:
    """ "a.b.c" -> ["a", "a.b"]: the packages whose `__init__` runs before the module."""
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def imported_modules(module: str, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The project modules one import statement of `module` runs (or needs already run)."""
    targets: set[str] = set()
    if isinstance(node, ast.Import):
        targets.update(alias.name for alias in node.names)
    else:
        if node.level:  # relative: from the module's own package (a package is its own base)
            package = module if is_package(module, modules) else module.rpartition(".")[0]
            base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            # `from pkg import name`: the submodule pkg.name when there is one, else a name that
            # pkg's `__init__` defines or re-exports (its own imports then carry the edge on).
            targets.add(submodule if submodule in modules else base)
    edges = {target for target in targets if target in modules and target != module}
    for target in targets:
        # Importing a.b.c runs a and a.b first, except the packages `module` is itself inside
        # (already being imported when `module` runs, so they are no new step). A name taken
        # from such a package's `__init__` is an edge all the same (added above): it must be
        # defined before that `__init__` imports `module`, which is exactly a cycle's hazard.
        edges.update(a for a in ancestors(target) if a in modules and a != module and a not in ancestors(module))
    return edges


def deferred_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that can run, at import time or later (in a function): all but those under
    `if TYPE_CHECKING:`."""
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and is_type_checking(node.test)
        for inner in ast.walk(ast.Module(body=node.body, type_ignores=[]))
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skipped:
            yield node


def import_graph(modules: dict[str, Path], deferred: bool = False) -> dict[str, set[str]]:
    """Module -> the project modules it imports when it is imported (with `deferred`, also
    those its functions import when called)."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = set()
        for node in deferred_imports(tree) if deferred else runtime_imports(tree.body):
            graph[module] |= imported_modules(module, node, modules)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that ends where it starts) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph is small, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [cycle_in(group, graph) for group in groups]


def cycle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle in {group}")  # cannot happen for a strongly connected group


# -- the checks ------------------------------------------------------------------------------


def test_no_import_cycle() -> None:
    cycles = find_cycles(import_graph(project_modules()))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_module_imports_back_even_from_a_function() -> None:
    """A function-level import keeps a circle from failing at import time, not from being a
    circle: the layers (ingest, storage, lexical, search, answer, measure, the command lines)
    only import downwards."""
    cycles = find_cycles(import_graph(project_modules(), deferred=True))
    assert not cycles, "import cycles through function-level imports:\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def test_fitted_data_is_read_when_asked_for_never_at_import() -> None:
    """The fitted models are data passed in (`index.models.load_models`): no module of `index`
    reads them at module level, where a test or a script could not give its own."""
    offenders = []
    for module, path in project_modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for statement in tree.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for node in ast.walk(statement):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("load_fitted", "load_models"):
                    offenders.append(f"{module}:{node.lineno}")
    assert not offenders, offenders


def test_the_scripts_and_measurements_replace_nothing_of_the_product() -> None:
    """Measurement goes through the product's public seams (answerers passed in, the answerer's
    `trace`, ingest's `on_step`, the search's options): no script or measurement module assigns
    to another object's private attribute, or to anything of a project module it imported."""
    files = sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "index" / "measure").glob("*.py"))
    offenders = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "index")
            for alias in node.names
        }
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in (t for t in targets if isinstance(t, ast.Attribute)):
                root = target.value
                while isinstance(root, ast.Attribute):
                    root = root.value
                own = isinstance(target.value, ast.Name) and target.value.id == "self"  # its own state
                private = target.attr.startswith("_") and not own
                if private or (isinstance(root, ast.Name) and root.id in imported):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} assigns {ast.unparse(target)}")
    assert not offenders, "\n".join(offenders)


def test_a_question_goes_straight_through_ask() -> None:
    """`NewsIndex.ask` is understand -> retrieve -> answer, a few statements, like LlamaIndex's
    CitationQueryEngine._query: what the question means is read once, in question.understand."""
    tree = ast.parse((ROOT / "index" / "newsindex.py").read_text(encoding="utf-8"))
    ask = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "ask")
    body = ask.body[1:] if ast.get_docstring(ask) else ask.body
    assert len(body) <= 6
    called = {node.func.id for node in ast.walk(ask) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {"understand", "answer_in_order"} <= called


def test_index_never_imports_discord_or_the_bot() -> None:
    """Anywhere in `index/`: module level, under TYPE_CHECKING or in a function. (`newsbot bot`
    reaches the bot the other way round: bot/cli.py registers itself through the
    `newsbot.commands` entry point, which index/cli.py looks up by group name.)"""
    offenders = []
    for module, path in project_modules().items():
        if module.split(".")[0] != "index":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')} imports {name}"
                for name in names
                if name.split(".")[0] in ("discord", "bot", "simcord")
            ]
    assert not offenders, "\n".join(offenders)


def test_no_module_is_too_long_without_a_reason() -> None:
    offenders = []
    for path in project_modules().values():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines <= MAX_LINES:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if LONG_REASON not in " ".join(docstring.split()).lower():
            offenders.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert not offenders, f"over {MAX_LINES} lines, with no docstring line saying '{LONG_REASON} ...': " + ", ".join(
        offenders
    )


# -- the checker itself ----------------------------------------------------------------------


def test_the_import_walk_skips_type_checking_and_function_imports_and_resolves_relative_ones() -> None:
    modules = {name: Path(f"{name.replace('.', '/')}.py") for name in ("p.a", "p.b", "p.c", "p.d", "q.e")}
    modules |= {"p": Path("p/__init__.py"), "q": Path("q/__init__.py")}
    source = """
from typing import TYPE_CHECKING
from . import b
from .c import thing
import q.e
if TYPE_CHECKING:
    from .d import Type
else:
    from p import name_in_init
def later():
    from .d import thing
"""
    edges = set().union(*(imported_modules("p.a", n, modules) for n in runtime_imports(ast.parse(source).body)))
    assert edges == {"p", "p.b", "p.c", "q", "q.e"}  # p: for `name_in_init`, not for `from . import b`
    assert imported_modules("p", ast.parse("from .a import x").body[0], modules) == {"p.a"}  # type: ignore[arg-type]


def test_cycles_are_found_and_printed_as_a_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert sorted(find_cycles(graph)) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_command_line_starts_without_the_heavy_modules() -> None:
    """`newsbot --help` (and every command's parser) loads neither NewsIndex (Chroma, ONNX
    Runtime, LlamaIndex) nor `onnx`: NewsIndex is imported on first use (index/__init__)."""
    probe = (
        "import sys, index, index.cli, bot.cli; from index.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('index.newsindex', 'chromadb', 'onnx', 'onnxruntime') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout
    from index import NewsIndex  # still importable by name, through the package's __getattr__

    assert NewsIndex.__module__ == "index.newsindex"


def test_answering_loads_no_module_it_does_not_use() -> None:
    """A cold `newsbot ask` imports NewsIndex, not scipy (bm25s's package imports it; only its
    stopword list is read, analysis.py), onnx, LlamaIndex's engine or Discord."""
    probe = (
        "import sys; import index.newsindex; "
        "print(sorted(m for m in ('scipy', 'bm25s', 'onnx', 'llama_index', 'discord', 'torch') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout
