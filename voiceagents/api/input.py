"""Rules every API request's input obeys, whatever the endpoint, checked once at the boundary
(``organizations.api.base.OrganizationScopedMixin.initial``) rather than per field.

- No NUL character (U+0000) anywhere: not in a query parameter, a form field, or a JSON key or
  string at any depth. PostgreSQL stores neither in ``text`` nor in ``jsonb``, so such a value
  could only fail later, as a 500. The 400 names each offending field by its path
  (``metadata.tags[2]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework.exceptions import ValidationError

NUL = "\x00"
NUL_MESSAGE = "NUL characters (U+0000) are not allowed."
# Paths named in one error at most: enough to find them, bounded for a hostile body.
_MAX_PATHS = 20


def reject_nul_characters(*, query_params: QueryDict, data: Any) -> None:
    """Raise a ValidationError naming every query parameter or body field (by path) whose
    name or value holds a NUL character."""
    paths = nul_paths(query_params) + nul_paths(data)
    if paths:
        raise ValidationError({path: [NUL_MESSAGE] for path in paths[:_MAX_PATHS]})


def nul_paths(value: Any, *, prefix: str = "") -> list[str]:
    """The paths under ``value`` (parsed JSON, or a QueryDict of form fields or query
    parameters) whose key or string holds a NUL. Iterative: the depth is the sender's choice."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack and len(found) < _MAX_PATHS:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                found.append(path or "non_field_errors")
        elif isinstance(item, Mapping):
            # A QueryDict (form fields, query parameters) may repeat a name: check every value.
            pairs: list[tuple[Any, list[Any]]] = (
                list(item.lists())
                if isinstance(item, QueryDict)
                else [(key, [child]) for key, child in item.items()]
            )
            for key, values in reversed(pairs):
                child_path = _key_path(path, str(key))
                if NUL in str(key):
                    found.append(child_path)
                else:
                    stack.extend((child_path, value) for value in reversed(values))
        elif isinstance(item, list | tuple):
            items: list[tuple[int, Any]] = list(enumerate(item))
            stack.extend((f"{path}[{index}]", element) for index, element in reversed(items))
    return found


def _key_path(path: str, key: str) -> str:
    # The NUL is shown escaped: the path itself must be printable.
    key = key.replace(NUL, "\\u0000")
    return f"{path}.{key}" if path else key
