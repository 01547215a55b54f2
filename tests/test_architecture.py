"""The shape of the code, checked: imports flow one way, and SQL is literal and lives in ``queries`` modules.

Read from the source with ``ast``, so the checks cover every module, imported by a test or not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("service", "forms", "signing")
#: asyncpg's methods that take a statement as their first argument.
STATEMENT_METHODS = frozenset({"execute", "executemany", "fetch", "fetchrow", "fetchval", "cursor", "prepare"})
#: Modules whose SQL sits beside the code that runs it, and why: the migration runner creates its own
#: bookkeeping table before any migration exists.
SQL_OUTSIDE_QUERIES = frozenset({"service.migrate"})
#: Statements that are not constants, and why: the runner executes the migration files themselves.
FILE_STATEMENTS = frozenset({("service.migrate", "migration.sql")})


def modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return found


MODULES = modules()


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except what sits under ``if TYPE_CHECKING:`` (never imported when the code runs)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and ast.unparse(child.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}:
            yield from (n for orelse in child.orelse for n in [orelse, *runtime_nodes(orelse)])
            continue
        yield child
        yield from runtime_nodes(child)


def imports(name: str, tree: ast.Module) -> Iterator[str]:
    """Every module of ours that ``name`` imports when it runs, at the top or inside a function."""
    package = name if (ROOT / Path(*name.split("."))).is_dir() else name.rpartition(".")[0]
    for node in runtime_nodes(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from service.submissions import queries`` imports a module; ``from x import name`` a name.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                yield target if target in MODULES else target.rpartition(".")[0]


GRAPH = {name: set(imports(name, tree)) - {name} for name, tree in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_module_graph_has_no_cycle() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_check_can_fail() -> None:
    graph = {**GRAPH, "service.submissions.queries": GRAPH["service.submissions.queries"] | {"service.access"}}
    assert ["service.access", "service.submissions.queries"] in cycles(graph)


def test_forms_and_signing_never_import_the_service() -> None:
    reaching = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith(("forms", "signing"))
        for target in targets
        if target.startswith("service")
    }
    assert reaching == set()


@pytest.mark.parametrize(("upstream", "downstream"), [("service.submissions", "service.review")])
def test_review_builds_on_submissions_never_the_reverse(upstream: str, downstream: str) -> None:
    reverse = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith(upstream)
        for target in targets
        if target.startswith(downstream)
    }
    assert reverse == set()


def literal(node: ast.expr, literals: set[str]) -> bool:
    """Whether PEP 675 would call the value a literal: written out, or joined only from literals.

    mypy does not check ``LiteralString`` (it is ``str`` there), so this test does: a statement may
    be composed of the module's own literal constants (a column list), never of a runtime value.
    """
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):
        return node.id in literals
    if isinstance(node, ast.JoinedStr):
        return all(
            literal(part.value if isinstance(part, ast.FormattedValue) else part, literals)
            and (not isinstance(part, ast.FormattedValue) or part.format_spec is None)
            for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal(node.left, literals) and literal(node.right, literals)
    return False


def sql_constants() -> tuple[set[str], list[str]]:
    """Names of the SQL constants (``X: Final[LiteralString] = "..."``), and every misplaced or built one."""
    names, wrong = set(), []
    for name, tree in MODULES.items():
        literals: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and literal(value, literals):
                literals.add(target.id)
            if not (isinstance(node, ast.AnnAssign) and "LiteralString" in ast.unparse(node.annotation)):
                continue
            assert isinstance(node.target, ast.Name)
            where = f"{name}.{node.target.id}"
            if not (name.endswith(".queries") or name in SQL_OUTSIDE_QUERIES):
                wrong.append(f"{where}: SQL outside a queries module")
            if node.target.id not in literals:
                wrong.append(f"{where}: built from something that is not a literal")
            names.add(node.target.id)
    return names, wrong


def statements(tree: ast.Module) -> Iterator[tuple[int, ast.expr]]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in STATEMENT_METHODS
            and node.args
        ):
            yield node.lineno, node.args[0]


def names_a_constant(expression: ast.expr, constants: set[str]) -> bool:
    if isinstance(expression, ast.IfExp):  # ``LOCK if lock else SELECT``
        return names_a_constant(expression.body, constants) and names_a_constant(expression.orelse, constants)
    if isinstance(expression, ast.Name):
        return expression.id in constants
    if isinstance(expression, ast.Attribute):
        return expression.attr in constants
    return False


def test_every_statement_is_a_literal_constant_of_a_queries_module() -> None:
    constants, wrong = sql_constants()
    for name, tree in MODULES.items():
        for line, statement in statements(tree):
            if not names_a_constant(statement, constants) and (name, ast.unparse(statement)) not in FILE_STATEMENTS:
                wrong.append(f"{name}:{line}: {ast.unparse(statement)[:60]}")
    assert wrong == []


def test_the_statement_check_can_fail() -> None:
    constants, _ = sql_constants()
    tree = ast.parse('async def f(conn):\n    await conn.execute(f"SELECT {x}")\n    await conn.fetch(QUERY + "x")')
    assert [names_a_constant(s, constants) for _, s in statements(tree)] == [False, False]
    columns = {"_COLUMNS"}
    assert literal(ast.parse('f"SELECT {_COLUMNS} FROM t"', mode="eval").body, columns)
    assert not literal(ast.parse('f"SELECT {columns()} FROM t"', mode="eval").body, columns)
    assert not literal(ast.parse('"SELECT " + name', mode="eval").body, columns)
