"""Prompt variables: ``{{customer_name}}`` in a system prompt or first message, filled per call.

Substitution is one regular-expression pass, never a template engine: prompts are written by
tenants and values come from CSV rows and API callers, so nothing in either may run code,
read attributes or loop. A value is inserted as it is and never scanned again, so a value
holding ``{{other}}`` or ``{% if %}`` is spoken literally rather than expanded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Flat names only (``{{ customer_name }}``); anything else between braces is left as written.
VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    # Variables the template uses that had no value (rendered empty), in order of first use;
    # the call records them in its events.
    missing: tuple[str, ...] = ()


def prompt_variables(template: str) -> list[str]:
    """The variable names ``template`` uses, in order of first use, without repeats."""
    return list(dict.fromkeys(VARIABLE_RE.findall(template or "")))


def prompt_render(*, template: str, variables: Mapping[str, Any] | None) -> RenderedPrompt:
    """``template`` with each ``{{name}}`` replaced by ``str(variables[name])``. A variable
    that is absent or None renders as an empty string and is listed in ``missing``."""
    if not template or "{{" not in template:
        return RenderedPrompt(text=template or "")
    values = variables or {}
    missing: dict[str, None] = {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name)
        if value is None:
            missing[name] = None
            return ""
        return str(value)

    return RenderedPrompt(text=VARIABLE_RE.sub(substitute, template), missing=tuple(missing))
