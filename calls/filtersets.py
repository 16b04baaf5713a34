"""List filters for calls, messages, batches, batch rows and events, and the do-not-call list
(the API's query parameters)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from calls.models import (
    Batch,
    BatchEvent,
    BatchRow,
    BatchRowStatus,
    BatchStatus,
    Call,
    CallDirection,
    CallStatus,
    DoNotCallEntry,
    EndReason,
    Message,
    MessageDirection,
)


class CallFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CallStatus.choices)
    direction = django_filters.ChoiceFilter(choices=CallDirection.choices)
    end_reason = django_filters.ChoiceFilter(choices=EndReason.choices)
    agent = django_filters.NumberFilter(field_name="agent_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    number = django_filters.CharFilter(
        method="filter_number", help_text="Calls from or to this E.164 number."
    )
    batch_id = django_filters.NumberFilter()
    schedule_id = django_filters.NumberFilter()

    class Meta:
        model = Call
        fields = [
            "status",
            "direction",
            "end_reason",
            "agent",
            "created_after",
            "created_before",
            "number",
            "batch_id",
            "schedule_id",
        ]

    def filter_number(self, queryset: QuerySet[Call], name: str, value: str) -> QuerySet[Call]:
        value = value.strip().replace(" ", "")
        if value and not value.startswith("+"):
            value = "+" + value  # a "+" in a query string arrives as a space
        return queryset.filter(Q(from_number=value) | Q(to_number=value))


class MessageFilterSet(django_filters.FilterSet):
    direction = django_filters.ChoiceFilter(choices=MessageDirection.choices)
    call = django_filters.NumberFilter(field_name="call_id")
    phone_number = django_filters.NumberFilter(field_name="phone_number_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Message
        fields = ["direction", "call", "phone_number", "created_after", "created_before"]


class BatchFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=BatchStatus.choices)
    agent = django_filters.NumberFilter(field_name="agent_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Batch
        fields = ["status", "agent", "created_after", "created_before"]


class BatchRowFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=BatchRowStatus.choices)

    class Meta:
        model = BatchRow
        fields = ["status"]


class BatchEventFilterSet(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=BatchEvent.Kind.choices)

    class Meta:
        model = BatchEvent
        fields = ["kind"]


class DncEntryFilterSet(django_filters.FilterSet):
    number = django_filters.CharFilter(
        method="filter_number", help_text="Entries whose number contains this."
    )
    source = django_filters.CharFilter()

    class Meta:
        model = DoNotCallEntry
        fields = ["number", "source"]

    def filter_number(
        self, queryset: QuerySet[DoNotCallEntry], name: str, value: str
    ) -> QuerySet[DoNotCallEntry]:
        digits = "".join(char for char in value if char.isdigit())
        return queryset.filter(number__contains=digits) if digits else queryset
