"""The agent model's provider choices and the realtime catalog name the same providers."""

from __future__ import annotations

from agents.models import Agent, AIProvider
from agents.realtime.registry import PROVIDERS


def test_ai_provider_choices_are_the_realtime_catalog():
    assert dict(AIProvider.choices) == {name: info.label for name, info in PROVIDERS.items()}


def test_a_new_agent_defaults_to_a_cataloged_provider():
    default = Agent._meta.get_field("ai_provider").get_default()

    assert default == AIProvider.OPENAI and default in PROVIDERS
