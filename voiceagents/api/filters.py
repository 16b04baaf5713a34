"""The API's filter backend (REST_FRAMEWORK's DEFAULT_FILTER_BACKENDS): django-filter's, with
one rule for the datetimes of every FilterSet.

A datetime query parameter may carry any UTC offset Python accepts (up to ±23:59), but
PostgreSQL refuses offsets beyond ±15:59 (``created_before=2020-01-01T00:00:00-16:30`` was a
DataError, a 500). Each parsed datetime is converted to UTC before it reaches a query; one that
leaves the calendar once converted (year 9999 minus an offset) is a 400 naming the parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

OUT_OF_RANGE = "This date and time is out of range once converted to UTC."


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid() and self.raise_exception:
            raise utils.translate_validation(filterset.errors)
        cleaned = filterset.form.cleaned_data
        errors: dict[str, list[str]] = {}
        for name, value in cleaned.items():
            try:
                cleaned[name] = _in_utc(value)
            except OverflowError:
                errors[name] = [OUT_OF_RANGE]
        if errors:
            raise ValidationError(errors)
        return filterset.qs


def _in_utc(value: Any) -> Any:
    """``value`` with each aware datetime in it (alone, a range's slice, a list) in UTC."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.utcoffset() is not None else value
    if isinstance(value, slice):
        return slice(_in_utc(value.start), _in_utc(value.stop), value.step)
    if isinstance(value, list | tuple):
        return type(value)(_in_utc(item) for item in value)
    return value
