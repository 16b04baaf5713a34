"""The configuration a call starts from: resolved once, served from Redis with no query, and
invalidated by every change once it commits."""

import json

import pytest
from django.db import transaction

from agents import config as config_module
from agents import services
from agents.config import ResolvedAgentConfig, config_cache_read, config_cache_store
from agents.exceptions import AgentNotFound
from agents.selectors import agent_config_resolve
from knowledge import services as knowledge_services
from knowledge.models import KnowledgeBase
from tests.agents.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs the on-commit callbacks of the block, as a real commit would (the test's own
    transaction never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_warm_resolution_makes_no_database_queries(in_org_a, committed, django_assert_num_queries):
    kb = KnowledgeBase.objects.create(name="FAQ")
    agent = AgentFactory(knowledge_base_ids=[kb.pk], tools=["knowledge_search"])
    with committed():
        cold = agent_config_resolve(agent_id=agent.pk)

    with django_assert_num_queries(0):
        warm = agent_config_resolve(agent_id=agent.pk)

    assert warm == cold
    assert warm.knowledge_base_ids == (kb.pk,) and warm.tools == ("knowledge_search",)
    assert warm.version == 1 and warm.model == "gpt-realtime"


class _CountingCache:
    """Delegates to the real cache and records the name of every call (one per round trip)."""

    def __init__(self, inner):
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name):
        method = getattr(self._inner, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


def test_warm_resolution_is_one_redis_round_trip(in_org_a, committed, monkeypatch):
    agent = AgentFactory(knowledge_base_ids=[KnowledgeBase.objects.create(name="FAQ").pk])
    with committed():
        agent_config_resolve(agent_id=agent.pk)
    counting = _CountingCache(config_module.cache)
    monkeypatch.setattr(config_module, "cache", counting)

    agent_config_resolve(agent_id=agent.pk)

    assert counting.calls == ["get_many"]


def test_a_change_is_seen_by_the_next_resolution(in_org_a, committed):
    agent = AgentFactory(system_prompt="Old")
    with committed():
        agent_config_resolve(agent_id=agent.pk)

    with committed():
        services.agent_update(agent=agent, data={"system_prompt": "New {{name}}"})

    resolved = agent_config_resolve(agent_id=agent.pk)
    assert (resolved.version, resolved.system_prompt) == (2, "New {{name}}")
    assert resolved.prompt_variables == ("name",)


def test_pausing_is_seen_by_the_next_resolution(in_org_a, committed):
    agent = AgentFactory()
    with committed():
        assert agent_config_resolve(agent_id=agent.pk).is_active

    with committed():
        services.agent_update(agent=agent, data={"status": "paused"})

    assert not agent_config_resolve(agent_id=agent.pk).is_active


def test_a_deleted_agent_no_longer_resolves(in_org_a, committed):
    agent = AgentFactory()
    with committed():
        agent_config_resolve(agent_id=agent.pk)

    with committed():
        services.agent_delete(agent=agent)

    with pytest.raises(AgentNotFound):
        agent_config_resolve(agent_id=agent.pk)


def test_a_config_read_in_a_transaction_that_rolls_back_is_never_cached(in_org_a, committed):
    agent = AgentFactory(system_prompt="Committed")
    with committed():
        try:
            with transaction.atomic():
                services.agent_update(agent=agent, data={"system_prompt": "Rolled back"})
                assert agent_config_resolve(agent_id=agent.pk).system_prompt == "Rolled back"
                raise RuntimeError("abort")
        except RuntimeError:
            pass

    with committed():
        assert agent_config_resolve(agent_id=agent.pk).system_prompt == "Committed"


def test_a_reader_that_loaded_the_old_row_cannot_cache_it_after_a_change(in_org_a, committed):
    agent = AgentFactory(system_prompt="Old")
    # A slow reader misses and loads the old row (its own store waits for a commit)...
    _miss, generation = config_cache_read(agent_id=agent.pk)
    old_config = agent_config_resolve(agent_id=agent.pk)
    # ...a write commits meanwhile...
    with committed():
        services.agent_update(agent=agent, data={"system_prompt": "New"})
    # ...and only then does the reader store what it loaded.
    with committed():
        config_cache_store(config=old_config, generation=generation)

    assert agent_config_resolve(agent_id=agent.pk).system_prompt == "New"


def test_the_resolved_config_is_plain_data_and_renders_per_call(in_org_a, settings):
    settings.HUME_CONFIG_ID = "0b6b5e4e-6b1c-4b59-9a5a-0b7d1f2d7e11"
    agent = AgentFactory(
        ai_provider="hume",
        system_prompt="You help {{customer_name}} of {{company}}.",
        first_message="Hi {{customer_name}}!",
        voicemail_message="Call {{company}} back.",
    )

    config = agent_config_resolve(agent_id=agent.pk)

    assert ResolvedAgentConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.provider_settings == {"config_id": settings.HUME_CONFIG_ID}
    assert config.prompt_variables == ("customer_name", "company")
    rendered = config.render(variables={"customer_name": "{{company}}"})
    assert rendered.system_prompt == "You help {{company}} of ."
    assert rendered.first_message == "Hi {{company}}!"
    assert rendered.voicemail_message == "Call  back."
    assert rendered.missing == ("company",)


def test_each_organization_has_its_own_cache_entries(org_a, org_b, committed):
    from django_tenants.utils import tenant_context

    with tenant_context(org_a):
        a_agent = AgentFactory(name="A's agent")
        with committed():
            agent_config_resolve(agent_id=a_agent.pk)
    with tenant_context(org_b), pytest.raises(AgentNotFound):
        agent_config_resolve(agent_id=a_agent.pk)  # same id, other schema: not A's entry


def test_a_deleted_knowledge_base_leaves_the_agents_cached_config(in_org_a, committed):
    kept, deleted = (KnowledgeBase.objects.create(name=name) for name in ("Kept", "Deleted"))
    agent = AgentFactory(knowledge_base_ids=[kept.pk, deleted.pk])
    with committed():
        assert agent_config_resolve(agent_id=agent.pk).knowledge_base_ids == tuple(
            sorted((kept.pk, deleted.pk))
        )

    with committed():
        knowledge_services.knowledge_base_delete(knowledge_base=deleted)

    resolved = agent_config_resolve(agent_id=agent.pk)
    assert resolved.knowledge_base_ids == (kept.pk,)
    assert resolved.version == 1  # the agent itself did not change


def test_a_changed_knowledge_base_makes_cached_configs_stale(in_org_a, committed):
    kb = KnowledgeBase.objects.create(name="FAQ")
    agent = AgentFactory(knowledge_base_ids=[kb.pk])
    with committed():
        agent_config_resolve(agent_id=agent.pk)
    assert config_cache_read(agent_id=agent.pk)[0] is not None

    with committed():
        knowledge_services.knowledge_base_update(knowledge_base=kb, data={"name": "Renamed"})

    assert config_cache_read(agent_id=agent.pk)[0] is None


def test_a_knowledge_change_that_rolls_back_leaves_cached_configs_warm(in_org_a, committed):
    kb = KnowledgeBase.objects.create(name="FAQ")
    agent = AgentFactory(knowledge_base_ids=[kb.pk])
    with committed():
        agent_config_resolve(agent_id=agent.pk)

    with committed():
        try:
            with transaction.atomic():
                knowledge_services.knowledge_base_delete(knowledge_base=kb)
                raise RuntimeError("abort")
        except RuntimeError:
            pass

    assert config_cache_read(agent_id=agent.pk)[0] is not None


def test_a_knowledge_change_in_another_organization_leaves_the_cache_warm(org_a, org_b, committed):
    from django_tenants.utils import tenant_context

    with tenant_context(org_a):
        agent = AgentFactory(knowledge_base_ids=[KnowledgeBase.objects.create(name="A").pk])
        with committed():
            agent_config_resolve(agent_id=agent.pk)
    with tenant_context(org_b):
        b_kb = KnowledgeBase.objects.create(name="B")
        with committed():
            knowledge_services.knowledge_base_delete(knowledge_base=b_kb)

    with tenant_context(org_a):
        assert config_cache_read(agent_id=agent.pk)[0] is not None
