"""The one FilterSet for agent lists (API; the admin's filters mirror it)."""

from __future__ import annotations

import django_filters

from agents.models import Agent, AgentStatus, AIProvider


class AgentFilterSet(django_filters.FilterSet):
    ai_provider = django_filters.ChoiceFilter(choices=AIProvider.choices)
    status = django_filters.ChoiceFilter(choices=AgentStatus.choices)
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Agent
        fields = ["ai_provider", "status", "name"]
