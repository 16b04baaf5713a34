"""Reads for agents: lists, loaders, version history and diffs, and the cached configuration a
call starts from. Every read runs in the active tenant schema, so another organization's
agent is simply absent (the same AgentNotFound as an id that never existed)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from agents.config import ResolvedAgentConfig, config_cache_read, config_cache_store
from agents.exceptions import AgentNotFound, AgentVersionNotFound
from agents.models import Agent, AgentVersion
from agents.prompts import prompt_variables
from agents.realtime.registry import PROVIDERS
from agents.validation import CONFIG_FIELDS, LONG_TEXT_FIELDS
from integrations.selectors import credential_identifier
from knowledge.models import KnowledgeBase

__all__ = [
    "AgentVersionDiff",
    "FieldChange",
    "ResolvedAgentConfig",
    "agent_config_resolve",
    "agent_config_snapshot",
    "agent_get",
    "agent_list",
    "agent_version_diff",
    "agent_version_get",
    "agent_version_list",
]


def agent_list() -> QuerySet[Agent]:
    """Agents that are not deleted, with what the API and admin show of each."""
    return (
        Agent.objects.alive()
        .select_related("created_by", "updated_by")
        .prefetch_related(Prefetch("knowledge_bases", queryset=KnowledgeBase.objects.only("pk")))
    )


def agent_get(*, agent_id: int | str) -> Agent:
    try:
        pk = int(agent_id)
    except (TypeError, ValueError):
        raise AgentNotFound() from None
    agent = agent_list().filter(pk=pk).first()
    if agent is None:
        raise AgentNotFound()
    return agent


def agent_config_snapshot(*, agent: Agent) -> dict[str, Any]:
    """The agent's versioned configuration as JSON-safe values (what an AgentVersion stores)."""
    config = {
        field: getattr(agent, field) for field in CONFIG_FIELDS if field != "knowledge_base_ids"
    }
    config["knowledge_base_ids"] = sorted(kb.pk for kb in agent.knowledge_bases.all())
    return config


# --- versions ------------------------------------------------------------------------------------


def agent_version_list(*, agent: Agent) -> QuerySet[AgentVersion]:
    """Newest first."""
    return AgentVersion.objects.filter(agent=agent).select_related("created_by").order_by("-number")


def agent_version_get(*, agent: Agent, number: int | str) -> AgentVersion:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise AgentVersionNotFound() from None
    version = agent_version_list(agent=agent).filter(number=number).first()
    if version is None:
        raise AgentVersionNotFound(details={"version": number, "current": agent.version})
    return version


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    # For long text fields, a unified diff of old -> new; None for other fields.
    diff: str | None = None


@dataclass(frozen=True, slots=True)
class AgentVersionDiff:
    agent_id: int
    from_version: int
    to_version: int
    changes: tuple[FieldChange, ...]


def agent_version_diff(*, agent: Agent, from_number: int, to_number: int) -> AgentVersionDiff:
    """Field-by-field changes from one version to another (either order)."""
    old = agent_version_get(agent=agent, number=from_number)
    new = agent_version_get(agent=agent, number=to_number)
    changes = []
    for field in CONFIG_FIELDS:
        before, after = old.config.get(field), new.config.get(field)
        if before == after:
            continue
        diff = None
        if field in LONG_TEXT_FIELDS:
            diff = "\n".join(
                difflib.unified_diff(
                    (before or "").splitlines(),
                    (after or "").splitlines(),
                    fromfile=f"v{old.number}/{field}",
                    tofile=f"v{new.number}/{field}",
                    lineterm="",
                )
            )
        changes.append(FieldChange(field=field, old=before, new=after, diff=diff))
    return AgentVersionDiff(
        agent_id=agent.pk, from_version=old.number, to_version=new.number, changes=tuple(changes)
    )


# --- the configuration a call starts from ------------------------------------------------------


def agent_config_resolve(*, agent_id: int) -> ResolvedAgentConfig:
    """The agent's current configuration for a call. Warm, it costs one Redis round trip and
    no database query; cold, two queries (the agent, its knowledge bases). A paused agent
    resolves (the caller decides what paused means); a deleted one is AgentNotFound."""
    cached, generation = config_cache_read(agent_id=agent_id)
    if cached is not None:
        return cached
    config = _config_build(agent=agent_get(agent_id=agent_id))
    config_cache_store(config=config, generation=generation)
    return config


def _config_build(*, agent: Agent) -> ResolvedAgentConfig:
    provider_settings = dict(agent.provider_config or {})
    info = PROVIDERS.get(agent.ai_provider)
    # An agent saved without a config id follows its account's default: the organization's
    # own credential's config id, else the platform's HUME_CONFIG_ID.
    if info is not None and info.uses_config_id and not provider_settings.get("config_id"):
        default = credential_identifier(kind=agent.ai_provider, name="config_id")
        if default:
            provider_settings["config_id"] = default
    variables = prompt_variables(
        "\n".join((agent.system_prompt, agent.first_message, agent.voicemail_message))
    )
    return ResolvedAgentConfig(
        agent_id=agent.pk,
        version=agent.version,
        name=agent.name,
        status=agent.status,
        ai_provider=agent.ai_provider,
        model=agent.model or (info.default_model if info else ""),
        voice=agent.voice or (info.default_voice if info else ""),
        language=agent.language,
        system_prompt=agent.system_prompt,
        first_message=agent.first_message,
        voicemail_message=agent.voicemail_message,
        prompt_variables=tuple(variables),
        temperature=agent.temperature,
        max_call_duration_seconds=agent.max_call_duration_seconds,
        silence_timeout_seconds=agent.silence_timeout_seconds,
        end_call_phrases=tuple(agent.end_call_phrases or ()),
        transfer_number=agent.transfer_number,
        recording_enabled=agent.recording_enabled,
        tools=tuple(agent.tools or ()),
        knowledge_base_ids=tuple(sorted(kb.pk for kb in agent.knowledge_bases.all())),
        provider_settings=provider_settings,
    )
