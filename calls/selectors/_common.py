"""Helpers shared by the selector modules."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def by_pk(queryset: QuerySet[M], value: Any) -> QuerySet[M]:
    """``queryset`` narrowed to the row with id ``value`` (from a URL or a form); empty, without
    a query, when ``value`` is not an id."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return queryset.none()
    return queryset.filter(pk=pk)
