"""axe-core in the browser tests: ``axe_check(page)`` runs Deque's accessibility engine on the
page as it stands and fails with each serious or critical violation (rule, help text, the
offending elements).

The engine is the ``axe.min.js`` that axe-playwright-python bundles (pinned in pyproject.toml;
see docs/decisions.md): read from the installed package and injected into the page, so nothing
is downloaded when the tests run. Only the script is used: the package's runner formats its
arguments with ``repr`` and keeps no impact levels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

# The levels issue #16 holds the console to; "minor" and "moderate" are reported by axe but
# do not fail a page.
FAILING_IMPACTS = frozenset({"serious", "critical"})
# axe's default rule set (WCAG 2.0-2.2 A and AA, and its best practices such as landmarks and
# headings); only the violations come back.
RUN_OPTIONS: dict[str, Any] = {"resultTypes": ["violations"]}

_AXE_SCRIPT = (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    help_url: str
    targets: tuple[str, ...]
    # axe's own explanation for the first element ("Element has insufficient color contrast
    # of 3.2 (foreground color: #9ca3af, ...)"), which says what to change.
    summary: str
    html: str  # the first element's HTML (its first 200 characters): its classes, its text

    def describe(self) -> str:
        elements = "\n".join(f"      {target}" for target in self.targets[:10])
        more = f"\n      … and {len(self.targets) - 10} more" if len(self.targets) > 10 else ""
        return (
            f"  [{self.impact}] {self.rule}: {self.help} ({self.help_url})\n"
            f"    {self.summary}\n      {self.html}\n{elements}{more}"
        )


def axe_violations(page, *, context: str | None = None) -> list[Violation]:
    """axe's serious and critical violations on ``page`` (the whole document, or the elements
    ``context`` selects)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluate, not a <script> tag: a page's Content-Security-Policy cannot refuse it.
        page.evaluate(_AXE_SCRIPT)
    results = page.evaluate(
        "([context, options]) => axe.run(context || document, options)",
        [context, RUN_OPTIONS],
    )
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        nodes = violation["nodes"]
        found.append(
            Violation(
                rule=violation["id"],
                impact=violation["impact"],
                help=violation["help"],
                help_url=violation["helpUrl"].split("?")[0],
                targets=tuple(json.dumps(node["target"]) for node in nodes),
                summary=(nodes[0].get("failureSummary") or "").replace("\n", " ") if nodes else "",
                html=nodes[0].get("html", "")[:200] if nodes else "",
            )
        )
    return found


def axe_report(violations: list[Violation]) -> str:
    return "\n".join(violation.describe() for violation in violations)


def axe_check(page, *, context: str | None = None) -> None:
    """Fail if axe finds a serious or critical violation on ``page``."""
    violations = axe_violations(page, context=context)
    assert not violations, f"axe: accessibility violations on {page.url}:\n" + axe_report(
        violations
    )
