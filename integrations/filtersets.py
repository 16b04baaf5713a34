"""The one FilterSet for tool executions (API; the admin's filters mirror it)."""

from __future__ import annotations

import django_filters

from integrations.models import ExecutionSource, ToolExecution


class ToolExecutionFilterSet(django_filters.FilterSet):
    server = django_filters.CharFilter()
    tool = django_filters.CharFilter()
    source = django_filters.ChoiceFilter(choices=ExecutionSource.choices)
    ok = django_filters.BooleanFilter()
    call_id = django_filters.NumberFilter(min_value=1, max_value=2**63 - 1)
    integration = django_filters.NumberFilter(
        field_name="integration_id", min_value=1, max_value=2**63 - 1
    )
    custom_tool = django_filters.NumberFilter(
        field_name="custom_tool_id", min_value=1, max_value=2**63 - 1
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ToolExecution
        fields = ["server", "tool", "source", "ok", "call_id", "integration", "custom_tool"]
