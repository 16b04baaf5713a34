"""The API's JSON parser (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES): DRF's, safe for any input.

Python's decoder recurses once per nesting level, so a body of ~1,000 nested brackets raised
RecursionError, which no handler expected (a 500). A document nested deeper than
``MAX_JSON_DEPTH`` is refused as a parse error instead, before any code walks it: no request
of ours needs more than a few levels, and code that recurses over the data later (validation,
JSON encoding for PostgreSQL) then never meets a depth it cannot handle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64
_TOO_DEEP = f"JSON parse error - the document is nested more than {MAX_JSON_DEPTH} levels deep."


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_TOO_DEEP) from None
        if json_depth(data) > MAX_JSON_DEPTH:
            raise ParseError(_TOO_DEEP)
        return data


def json_depth(value: Any) -> int:
    """How many arrays/objects deep ``value`` nests (0 for a scalar); counting stops once past
    MAX_JSON_DEPTH. Iterative."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth) for child in children)
    return deepest
