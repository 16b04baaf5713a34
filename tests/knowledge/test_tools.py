"""The knowledge_search agent tool searches the agent's own knowledge bases, and only them."""

import pytest

from agents.models import Agent
from knowledge import services
from knowledge.tools import knowledge_search_for_agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_with_bases(in_org_a, ingesting, openai_fake):
    local = services.knowledge_base_create(name="Returns")
    hosted = services.knowledge_base_create(
        name="Warranty", embedding_model="openai/text-embedding-3-small"
    )
    other = services.knowledge_base_create(name="Internal")
    with ingesting():
        services.document_add(
            knowledge_base=local, title="Returns", content="Returns are accepted for 30 days."
        )
        services.document_add(
            knowledge_base=hosted, title="Warranty", content="The warranty lasts two years."
        )
        services.document_add(
            knowledge_base=other, title="Secret", content="Staff discount on returns is 40%."
        )
    agent = Agent.objects.create(name="Support")
    agent.knowledge_bases.set([local, hosted])
    return agent


def test_the_tool_searches_only_the_agents_knowledge_bases(agent_with_bases):
    results = knowledge_search_for_agent(agent_id=agent_with_bases.pk, query="returns", top_k=5)

    titles = [result["document_title"] for result in results]
    assert titles[0] == "Returns"
    assert "Secret" not in titles
    assert set(results[0]) == {"text", "score", "document_title", "version", "position"}


def test_bases_of_different_embedding_models_are_merged_by_score(agent_with_bases):
    results = knowledge_search_for_agent(agent_id=agent_with_bases.pk, query="warranty", top_k=5)

    assert {result["document_title"] for result in results} == {"Returns", "Warranty"}
    assert results[0]["document_title"] == "Warranty"  # keyword match in its own base


def test_an_agent_without_knowledge_bases_gets_nothing(in_org_a):
    agent = Agent.objects.create(name="No knowledge")

    assert knowledge_search_for_agent(agent_id=agent.pk, query="anything") == []
    assert knowledge_search_for_agent(agent_id=987654, query="anything") == []
