"""Helpers shared by the selector modules."""

from __future__ import annotations

from typing import Any


def pk_or_none(value: Any) -> int | None:
    """An id from a URL or a form as an int; None (which matches no row) when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
