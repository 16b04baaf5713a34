"""Reads of the organization's phone numbers (with their rules, in order)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from calls.exceptions import PhoneNumberNotFound
from calls.models import PhoneNumber, RoutingRule
from calls.numbers import e164
from calls.selectors._common import by_pk

__all__ = ["phone_number_get", "phone_number_get_by_number", "phone_number_list"]


def phone_number_list() -> QuerySet[PhoneNumber]:
    rules = RoutingRule.objects.order_by("position", "id")
    return PhoneNumber.objects.select_related("agent").prefetch_related(
        Prefetch("rules", queryset=rules)
    )


def phone_number_get(*, phone_number_id: int | str) -> PhoneNumber:
    phone_number = by_pk(phone_number_list(), phone_number_id).first()
    if phone_number is None:
        raise PhoneNumberNotFound()
    return phone_number


def phone_number_get_by_number(*, number: str) -> PhoneNumber:
    phone_number = phone_number_list().filter(number=e164(number)).first()
    if phone_number is None:
        raise PhoneNumberNotFound(f"{number} is not one of this organization's numbers.")
    return phone_number
