import factory

from agents import services
from agents.models import Agent


class AgentFactory(factory.Factory):
    """Agents are made through agent_create, so each has its version 1 like real ones."""

    class Meta:
        model = Agent

    name = factory.Sequence(lambda n: f"Agent {n}")
    ai_provider = "openai"
    system_prompt = "You are a helpful assistant for {{company}}."

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.agent_create(**kwargs)
