"""Reads of the organization's do-not-call list."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import QuerySet

from calls.exceptions import DncEntryNotFound
from calls.models import DoNotCallEntry
from calls.selectors._common import by_pk

__all__ = ["dnc_entry_get", "dnc_entry_list", "dnc_numbers_listed"]


def dnc_entry_list() -> QuerySet[DoNotCallEntry]:
    return DoNotCallEntry.objects.select_related("created_by")


def dnc_entry_get(*, entry_id: int | str) -> DoNotCallEntry:
    entry = by_pk(dnc_entry_list(), entry_id).first()
    if entry is None:
        raise DncEntryNotFound()
    return entry


def dnc_numbers_listed(*, numbers: Collection[str]) -> set[str]:
    """Which of ``numbers`` (E.164) are on the list: one query (an index lookup per number)."""
    if not numbers:
        return set()
    return set(
        DoNotCallEntry.objects.filter(number__in=list(numbers)).values_list("number", flat=True)
    )
