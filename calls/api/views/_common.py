"""Helpers shared by the API view modules."""

from __future__ import annotations

from typing import Any, TypeVar

from rest_framework import serializers

S = TypeVar("S", bound=serializers.BaseSerializer)


def _valid(serializer_class: type[S], data: Any) -> S:
    """``serializer_class`` over ``data``, validated (a 400 otherwise)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer
