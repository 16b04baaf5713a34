#!/usr/bin/env python3
"""The import graph of the apps: layer rules, import cycles, and lazy imports to review.

    python scripts/check_imports.py          (make lint runs it)

It parses every module of the apps (standard library ``ast`` only: nothing is imported or run;
tests/, bench/ and migrations are left out) and

(a) fails on a forbidden layer edge (``FORBIDDEN``): a lower layer that imports a higher one,
    at module level, inside a function, or under ``if TYPE_CHECKING:`` alike, since each means
    the lower layer knows the higher one;
(b) fails on an import cycle between modules, counting only what runs when a module is
    loaded: module-level imports (also in class bodies, ``try`` and ``if`` blocks), not those
    inside functions and not those under ``if TYPE_CHECKING:``. ``from pkg import mod`` is an
    edge to ``pkg.mod`` when that is a module, ``from pkg.mod import name`` an edge to
    ``pkg.mod``. Importing ``pkg.mod`` also runs ``pkg/__init__.py``; that implicit edge is not
    counted, so a package that re-exports its modules is not a cycle with each of them;
(c) lists the function-level (lazy) imports, with the comment next to each, for review: a
    lazy import is fine to avoid loading a heavy SDK or model at import time (and should say
    so); to dodge a cycle it is a sign that code sits in the wrong module.

Exit status 1 on (a) or (b), 0 otherwise.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS: tuple[str, ...] = (
    "agents",
    "calls",
    "organizations",
    "knowledge",
    "integrations",
    "voiceagents",
)
SKIPPED_DIRS = frozenset({"tests", "bench", "migrations", "__pycache__"})
# app -> the apps it must never import. Dependencies point one way: calls uses agents and
# knowledge, agents uses knowledge, every product app uses integrations (the organizations'
# provider credentials), and everything uses organizations (the tenant layer).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "organizations": ("agents", "calls", "knowledge", "integrations"),
    "agents": ("calls",),
    "knowledge": ("agents", "calls"),
    "integrations": ("agents", "calls", "knowledge"),
}
# Elementary cycles printed per strongly connected group of modules, at most.
MAX_CYCLES_PER_GROUP = 50


@dataclass(frozen=True, slots=True)
class Import:
    """One imported name: ``module`` (at ``path``:``line``) imports ``target``."""

    module: str
    target: str  # the module it resolves to (the deepest one of the apps that exists)
    path: str  # relative to the root
    line: int
    statement: str
    function: str | None  # the enclosing function of a lazy import, None at module level
    type_only: bool  # under ``if TYPE_CHECKING:``
    comment: str = ""

    @property
    def lazy(self) -> bool:
        return self.function is not None

    @property
    def loads_target(self) -> bool:
        """Whether loading ``module`` imports ``target`` (an edge of the cycle graph)."""
        return not self.lazy and not self.type_only

    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(slots=True)
class Report:
    modules: list[str]
    imports: list[Import]
    violations: list[tuple[Import, str]] = field(default_factory=list)  # (import, rule)
    # Each cycle is its edges: a -> b, b -> c, ..., z -> a.
    cycles: list[list[Import]] = field(default_factory=list)

    @property
    def lazy_imports(self) -> list[Import]:
        return [imp for imp in self.imports if imp.lazy]

    @property
    def ok(self) -> bool:
        return not self.violations and not self.cycles


# --- parsing ---------------------------------------------------------------------------------


def module_files(root: Path, apps: Sequence[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``apps`` under ``root``."""
    modules: dict[str, Path] = {}
    for app in apps:
        base = root / app
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            relative = path.relative_to(root)
            if SKIPPED_DIRS.intersection(relative.parts[:-1]):
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _comment_for(lines: Sequence[str], node: ast.stmt) -> str:
    """The comment on the import's own lines, else the comment lines right above it (or above
    the block of imports it is part of)."""
    own = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
    trailing = [line.split("#", 1)[1].strip() for line in own if "#" in line]
    if trailing:
        return " ".join(trailing)
    above: list[str] = []
    number = node.lineno - 2
    while number >= 0 and lines[number].strip().startswith(("import ", "from ")):
        number -= 1
    while number >= 0 and lines[number].strip().startswith("#"):
        above.insert(0, lines[number].strip().lstrip("#").strip())
        number -= 1
    return " ".join(above)


class _ImportCollector(ast.NodeVisitor):
    def __init__(
        self, *, module: str, is_package: bool, path: str, source: str, known: Iterable[str]
    ) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.path = path
        self.lines = source.splitlines()
        self.known = set(known)
        self.functions: list[str] = []
        self.type_only = 0
        self.found: list[Import] = []

    # scopes
    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.functions.append(getattr(node, "name", "<lambda>"))
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function
    visit_Lambda = _visit_function

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.visit(node.test)
        self.type_only += 1
        for statement in node.body:
            self.visit(statement)
        self.type_only -= 1
        for statement in node.orelse:
            self.visit(statement)

    # imports
    def _resolve(self, dotted: str) -> str:
        """The deepest module of the apps that ``dotted`` names or lies in (else itself)."""
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.known:
                return candidate
        return dotted

    def _add(self, node: ast.stmt, target: str) -> None:
        self.found.append(
            Import(
                module=self.module,
                target=target,
                path=self.path,
                line=node.lineno,
                statement=ast.unparse(node),
                function=".".join(self.functions) or None,
                type_only=self.type_only > 0,
                comment=_comment_for(self.lines, node),
            )
        )

    def visit_Import(self, node: ast.Import) -> None:
        for target in dict.fromkeys(self._resolve(alias.name) for alias in node.names):
            self._add(node, target)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            anchor = self.package.split(".") if self.package else []
            anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
            base = ".".join([*anchor, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        targets: dict[str, None] = {}
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if alias.name != "*" and submodule in self.known:
                targets[submodule] = None
            else:
                targets[self._resolve(base)] = None
        for target in targets:
            self._add(node, target)


def collect_imports(root: Path, modules: dict[str, Path]) -> list[Import]:
    imports: list[Import] = []
    for module, path in modules.items():
        source = path.read_text(encoding="utf-8")
        collector = _ImportCollector(
            module=module,
            is_package=path.name == "__init__.py",
            path=str(path.relative_to(root)),
            source=source,
            known=modules,
        )
        collector.visit(ast.parse(source, filename=str(path)))
        imports.extend(collector.found)
    return imports


# --- rules -----------------------------------------------------------------------------------


def layer_violations(
    imports: Iterable[Import], forbidden: dict[str, tuple[str, ...]]
) -> list[tuple[Import, str]]:
    violations = []
    for imp in imports:
        app, target_app = imp.module.split(".")[0], imp.target.split(".")[0]
        if target_app in forbidden.get(app, ()):
            violations.append((imp, f"{app} must not import {target_app}"))
    return violations


def _strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on deep import chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, {})))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return groups


def _elementary_cycles(
    group: list[str], graph: dict[str, dict[str, Import]], limit: int
) -> list[list[Import]]:
    """The simple cycles inside one strongly connected group, each found once (from its
    smallest module), at most ``limit`` of them."""
    cycles: list[list[Import]] = []
    for start in group:
        allowed = {member for member in group if member >= start}
        _cycles_from(start, start, graph, allowed, [], {start}, cycles, limit)
    return cycles


def _cycles_from(
    start: str,
    node: str,
    graph: dict[str, dict[str, Import]],
    allowed: set[str],
    path: list[Import],
    visiting: set[str],
    cycles: list[list[Import]],
    limit: int,
) -> None:
    """Depth-first: every path from ``node`` back to ``start`` through ``allowed`` modules."""
    for successor in sorted(graph.get(node, {})):
        if len(cycles) >= limit or successor not in allowed:
            continue
        edge = graph[node][successor]
        if successor == start:
            cycles.append([*path, edge])
        elif successor not in visiting:
            visiting.add(successor)
            path.append(edge)
            _cycles_from(start, successor, graph, allowed, path, visiting, cycles, limit)
            path.pop()
            visiting.discard(successor)


def import_cycles(
    imports: Iterable[Import], modules: Iterable[str], limit: int = MAX_CYCLES_PER_GROUP
) -> list[list[Import]]:
    known = set(modules)
    graph: dict[str, dict[str, Import]] = {module: {} for module in known}
    for imp in imports:
        if imp.loads_target and imp.target in known:
            graph[imp.module].setdefault(imp.target, imp)  # the first import line is enough
    cycles: list[list[Import]] = []
    for group in _strongly_connected(graph):
        if len(group) > 1 or group[0] in graph[group[0]]:
            cycles.extend(_elementary_cycles(group, graph, limit))
    return cycles


def check(
    root: Path = ROOT,
    *,
    apps: Sequence[str] = APPS,
    forbidden: dict[str, tuple[str, ...]] | None = None,
) -> Report:
    """Parse the apps under ``root`` and apply both rules."""
    modules = module_files(root, apps)
    imports = collect_imports(root, modules)
    return Report(
        modules=sorted(modules),
        imports=imports,
        violations=layer_violations(imports, FORBIDDEN if forbidden is None else forbidden),
        cycles=import_cycles(imports, modules),
    )


# --- output ----------------------------------------------------------------------------------


def format_cycle(cycle: Sequence[Import]) -> str:
    chain = " -> ".join([cycle[0].module, *(edge.target for edge in cycle)])
    edges = "".join(f"\n      {edge.where():<42} {edge.statement}" for edge in cycle)
    return f"{chain}{edges}"


def format_report(report: Report) -> str:
    out: list[str] = []
    rules = "; ".join(f"{app} must not import {', '.join(apps)}" for app, apps in FORBIDDEN.items())
    out.append(f"Forbidden layer imports ({rules}): {len(report.violations)}")
    for imp, rule in report.violations:
        kind = "type-only" if imp.type_only else ("in " + imp.function if imp.lazy else "module")
        out.append(f"  {imp.where():<44} {imp.statement}  [{rule}; {kind}]")

    out.append(f"\nImport cycles (imports run at module load): {len(report.cycles)}")
    for number, cycle in enumerate(report.cycles, 1):
        out.append(f"  {number}. {format_cycle(cycle)}")

    lazy = report.lazy_imports
    out.append(f"\nFunction-level imports, to review: {len(lazy)}")
    for imp in lazy:
        reason = f"  # {imp.comment}" if imp.comment else "  (no comment)"
        out.append(f"  {imp.where():<44} {imp.statement}  (in {imp.function}){reason}")

    out.append(
        f"\n{len(report.modules)} modules, {len(report.imports)} imports: "
        f"{len(report.violations)} forbidden, {len(report.cycles)} cycles, {len(lazy)} lazy."
    )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    report = check()
    print(format_report(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
