"""Version history: every configuration change is an immutable version; diff and rollback."""

import pytest

from agents import selectors, services
from agents.exceptions import AgentNotFound, AgentVersionNotFound
from agents.models import Agent, AgentVersion
from knowledge.models import KnowledgeBase
from tests.agents.factories import AgentFactory
from tests.organizations.factories import UserFactory

pytestmark = pytest.mark.django_db


def versions_of(agent):
    return list(AgentVersion.objects.filter(agent=agent).order_by("number"))


def test_a_new_agent_is_at_version_one_with_its_configuration_stored(in_org_a):
    author = UserFactory()

    agent = AgentFactory(name="Front desk", actor=author)

    [first] = versions_of(agent)
    assert agent.version == first.number == 1
    assert first.created_by == author and first.note == "Created"
    assert first.config == selectors.agent_config_snapshot(agent=agent)
    assert first.config["model"] == "gpt-realtime"


def test_every_configuration_change_stores_who_changed_what(in_org_a):
    agent = AgentFactory()
    editor = UserFactory()

    agent = services.agent_update(
        agent=agent, data={"system_prompt": "New prompt", "temperature": 0.8}, actor=editor
    )

    assert agent.version == 2
    latest = versions_of(agent)[-1]
    assert latest.number == 2
    assert latest.changed_fields == ["system_prompt", "temperature"]
    assert latest.created_by == editor
    assert latest.config["system_prompt"] == "New prompt"
    assert versions_of(agent)[0].config["system_prompt"] != "New prompt"  # v1 is untouched
    assert agent.updated_by == editor


def test_saving_the_same_values_stores_no_version(in_org_a):
    agent = AgentFactory(temperature=0.7)

    agent = services.agent_update(agent=agent, data={"temperature": 0.7, "name": agent.name})

    assert agent.version == 1 and len(versions_of(agent)) == 1


def test_pausing_an_agent_is_not_a_configuration_version(in_org_a):
    agent = AgentFactory()

    agent = services.agent_update(agent=agent, data={"status": "paused"})

    assert agent.status == "paused"
    assert agent.version == 1 and len(versions_of(agent)) == 1


def test_rollback_creates_a_new_version_equal_to_the_old_config(in_org_a):
    agent = AgentFactory(system_prompt="First", tools=["end_call"])
    services.agent_update(agent=agent, data={"system_prompt": "Second"})
    agent = services.agent_update(agent=agent, data={"tools": [], "language": "de"})
    first = versions_of(agent)[0]

    agent = services.agent_rollback(agent=agent, version=1)

    assert agent.version == 4
    rolled = versions_of(agent)[-1]
    assert rolled.config == first.config
    assert rolled.note == "Rolled back to version 1"
    assert set(rolled.changed_fields) == {"system_prompt", "tools", "language"}
    assert (agent.system_prompt, agent.tools, agent.language) == ("First", ["end_call"], "en")
    assert [v.number for v in versions_of(agent)] == [1, 2, 3, 4]  # history is kept


def test_rollback_to_a_version_that_does_not_exist_is_not_found(in_org_a):
    agent = AgentFactory()

    with pytest.raises(AgentVersionNotFound):
        services.agent_rollback(agent=agent, version=7)


def test_rollback_leaves_out_knowledge_bases_deleted_since(in_org_a):
    kept, gone = (
        KnowledgeBase.objects.create(name="kept"),
        KnowledgeBase.objects.create(name="gone"),
    )
    agent = AgentFactory(knowledge_base_ids=[kept.pk, gone.pk])
    services.agent_update(agent=agent, data={"knowledge_base_ids": []})
    gone_pk = gone.pk
    gone.delete()

    agent = services.agent_rollback(agent=agent, version=1)

    assert [kb.pk for kb in agent.knowledge_bases.all()] == [kept.pk]
    assert f"knowledge bases {gone_pk} no longer exist" in versions_of(agent)[-1].note


def test_diff_lists_changed_fields_with_a_unified_diff_for_long_text(in_org_a):
    agent = AgentFactory(system_prompt="Line one\nLine two\n", temperature=None)
    services.agent_update(agent=agent, data={"system_prompt": "Line one\nLine 2\n"})
    services.agent_update(agent=agent, data={"temperature": 1.1})

    diff = selectors.agent_version_diff(agent=agent, from_number=1, to_number=3)

    by_field = {change.field: change for change in diff.changes}
    assert set(by_field) == {"system_prompt", "temperature"}
    assert (by_field["temperature"].old, by_field["temperature"].new) == (None, 1.1)
    assert by_field["temperature"].diff is None
    prompt_diff = by_field["system_prompt"].diff
    assert prompt_diff.startswith("--- v1/system_prompt\n+++ v3/system_prompt\n")
    assert "\n-Line two\n+Line 2" in prompt_diff


def test_soft_delete_keeps_the_agent_row_and_its_versions(in_org_a):
    agent = AgentFactory()
    services.agent_update(agent=agent, data={"name": "Renamed"})

    services.agent_delete(agent=agent)

    assert Agent.objects.get(pk=agent.pk).deleted_at is not None
    assert len(versions_of(agent)) == 2
    assert agent.pk not in selectors.agent_list().values_list("pk", flat=True)
    with pytest.raises(AgentNotFound):
        selectors.agent_get(agent_id=agent.pk)
    with pytest.raises(AgentNotFound):
        services.agent_update(agent=agent, data={"name": "Back?"})


def test_duplicate_copies_the_configuration_as_a_new_agent_at_version_one(in_org_a):
    kb = KnowledgeBase.objects.create(name="FAQ")
    agent = AgentFactory(
        name="Sales",
        ai_provider="gemini",
        voice="Kore",
        knowledge_base_ids=[kb.pk],
        tools=["knowledge_search"],
        first_message="Hi {{customer_name}}!",
    )
    agent = services.agent_update(agent=agent, data={"status": "paused", "language": "fr"})

    copy = services.agent_duplicate(agent=agent)

    assert copy.pk != agent.pk and copy.name == "Sales (copy)"
    assert copy.version == 1 and copy.status == "paused"
    original, duplicated = (selectors.agent_config_snapshot(agent=a) for a in (agent, copy))
    assert {**original, "name": ""} == {**duplicated, "name": ""}
    assert versions_of(copy)[0].note == f"Duplicated from agent {agent.pk} version 2"


def test_an_agent_whose_model_was_retired_can_still_be_paused(in_org_a):
    agent = AgentFactory()
    Agent.objects.filter(pk=agent.pk).update(model="gpt-retired")  # the catalog moved on

    agent = services.agent_update(agent=agent, data={"status": "paused"})

    assert (agent.status, agent.model, agent.version) == ("paused", "gpt-retired", 1)
