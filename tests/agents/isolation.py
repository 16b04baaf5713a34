"""Agents in the tenant-isolation contract (tests/isolation.py): another organization's agent
is unreachable by id for reads, changes, deletes and every workflow action."""

from __future__ import annotations

from agents.models import Agent
from tests.isolation import Resource, register


def _agent_create(org) -> object:
    from agents.services import agent_create, agent_update

    agent = agent_create(name="Isolated", ai_provider="gemini", system_prompt="Private prompt.")
    # A second version, so versions/diff/rollback have something to reach.
    agent_update(agent=agent, data={"system_prompt": "Private prompt, v2."})
    return agent.pk


def _agent_snapshot(org, pk) -> object:
    return (
        Agent.objects.filter(pk=pk).values("name", "system_prompt", "version", "deleted_at").first()
    )


register(
    Resource(
        name="agent",
        create=_agent_create,
        list_url=lambda org: "/api/v1/agents/",
        detail_url=lambda org, pk: f"/api/v1/agents/{pk}/",
        update_payload={"name": "Taken over"},
        snapshot=_agent_snapshot,
        actions=lambda org, pk: [
            ("post", f"/api/v1/agents/{pk}/duplicate/", {}),
            ("get", f"/api/v1/agents/{pk}/versions/", None),
            ("get", f"/api/v1/agents/{pk}/versions/1/", None),
            ("get", f"/api/v1/agents/{pk}/versions/diff/?from=1&to=2", None),
            ("post", f"/api/v1/agents/{pk}/rollback/", {"version": 1}),
        ],
    )
)
