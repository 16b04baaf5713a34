"""Writes for agents (the product's AgentService: agent_create, agent_update, agent_delete, ...).

Every change to an agent's configuration stores an immutable AgentVersion in the same
transaction (who, when, which fields) and bumps ``agent.version``; calls record the version
they ran with. After the commit the agent's cached call configuration is invalidated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import structlog
from django.db import models, transaction
from django.utils import timezone

from agents.config import config_cache_invalidate
from agents.exceptions import AgentNotFound
from agents.models import Agent, AgentStatus, AgentVersion, AIProvider
from agents.selectors import agent_config_snapshot, agent_version_get
from agents.validation import CONFIG_FIELDS, agent_config_clean
from knowledge.models import KnowledgeBase
from organizations.models import User
from voiceagents.exceptions import ValidationFailed

logger = structlog.get_logger(__name__)


def _new_agent_defaults() -> dict[str, Any]:
    """The model's column defaults; empty model/voice/provider settings are then filled with
    the provider's by agent_config_clean."""
    # CONFIG_FIELDS name the agent's own columns (the M2M knowledge_base_ids aside), never a
    # reverse relation or a generic foreign key, which get_field may also return.
    defaults = {
        field: cast("models.Field[Any, Any]", Agent._meta.get_field(field)).get_default()
        for field in CONFIG_FIELDS
        if field not in ("name", "ai_provider", "knowledge_base_ids")
    }
    return {**defaults, "knowledge_base_ids": []}


_PROVIDER_DEPENDENT = ("model", "voice", "provider_config")


def _reject_unknown(data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationFailed(
            "Some fields are not valid: " + ", ".join(unknown) + ".",
            details={"fields": {field: ["This field cannot be set."] for field in unknown}},
        )


def _status_clean(status: Any) -> str:
    if status not in AgentStatus.values:
        raise ValidationFailed(
            "Some fields are not valid: status.",
            details={
                "fields": {"status": [f"Choose one of: {', '.join(AgentStatus.values)}."]},
                "allowed": {"status": list(AgentStatus.values)},
            },
        )
    return str(status)


def _apply(agent: Agent, config: dict[str, Any]) -> list[str]:
    """Copy ``config`` onto the agent's columns; returns the columns written."""
    columns = [field for field in CONFIG_FIELDS if field != "knowledge_base_ids"]
    for field in columns:
        setattr(agent, field, config[field])
    return columns


def _version_record(
    *, agent: Agent, config: dict[str, Any], changed: list[str], actor: User | None, note: str
) -> AgentVersion:
    return AgentVersion.objects.create(
        agent=agent,
        number=agent.version,
        config=config,
        changed_fields=changed,
        note=note[:200],
        created_by=actor,
    )


@transaction.atomic
def agent_create(
    *,
    name: str,
    ai_provider: str = AIProvider.OPENAI,
    status: str = AgentStatus.ACTIVE,
    actor: User | None = None,
    note: str = "Created",
    **config: Any,
) -> Agent:
    """Create an agent and its version 1. ``config`` takes any other CONFIG_FIELDS key;
    model, voice and provider settings default to the provider's."""
    _reject_unknown(config, set(CONFIG_FIELDS))
    proposed = {**_new_agent_defaults(), **config, "name": name, "ai_provider": ai_provider}
    cleaned = agent_config_clean(config=proposed)
    agent = Agent(status=_status_clean(status), version=1, created_by=actor, updated_by=actor)
    _apply(agent, cleaned)
    agent.save()
    agent.knowledge_bases.set(cleaned["knowledge_base_ids"])
    _version_record(agent=agent, config=cleaned, changed=[], actor=actor, note=note)
    logger.info("agent_created", agent_id=agent.pk, provider=agent.ai_provider)
    return agent


@transaction.atomic
def agent_update(
    *, agent: Agent, data: Mapping[str, Any], actor: User | None = None, note: str = ""
) -> Agent:
    """Change some fields. A configuration change stores a new version; a status change alone
    does not. Switching provider without naming a model/voice/provider settings resets them
    to the new provider's defaults (the old ones would not be valid there)."""
    _reject_unknown(data, {*CONFIG_FIELDS, "status"})
    # The row lock serialises concurrent edits, so version numbers never collide.
    locked = Agent.objects.alive().select_for_update().filter(pk=agent.pk).first()
    if locked is None:
        raise AgentNotFound()
    before = agent_config_snapshot(agent=locked)
    changes = {k: v for k, v in data.items() if k != "status"}
    if changes:
        proposed = {**before, **changes}
        if proposed["ai_provider"] != before["ai_provider"]:
            # Empty values are filled with the new provider's defaults by agent_config_clean.
            for field in _PROVIDER_DEPENDENT:
                if field not in data:
                    proposed[field] = _new_agent_defaults()[field]
        cleaned = agent_config_clean(config=proposed)
    else:
        # Pausing must work even for an agent whose stored configuration has since become
        # invalid (a model the provider retired), so a status change alone is not re-checked.
        cleaned = before
    status = _status_clean(data["status"]) if "status" in data else locked.status

    changed = [field for field in CONFIG_FIELDS if cleaned[field] != before[field]]
    if not changed and status == locked.status:
        return locked

    columns = _apply(locked, cleaned)
    locked.status = status
    locked.updated_by = actor
    if changed:
        locked.version += 1
    locked.save(update_fields=[*columns, "status", "version", "updated_by", "updated_at"])
    if "knowledge_base_ids" in changed:
        locked.knowledge_bases.set(cleaned["knowledge_base_ids"])
    if changed:
        _version_record(agent=locked, config=cleaned, changed=changed, actor=actor, note=note)
    config_cache_invalidate(agent_id=locked.pk)
    logger.info("agent_updated", agent_id=locked.pk, version=locked.version, changed=changed)
    return locked


@transaction.atomic
def agent_delete(*, agent: Agent, actor: User | None = None) -> None:
    """Soft delete: the agent leaves lists and lookups, while its calls keep their agent and
    version (the rows and the version history stay)."""
    updated = (
        Agent.objects.alive()
        .filter(pk=agent.pk)
        .update(deleted_at=timezone.now(), updated_by=actor, updated_at=timezone.now())
    )
    if not updated:
        raise AgentNotFound()
    config_cache_invalidate(agent_id=agent.pk)
    logger.info("agent_deleted", agent_id=agent.pk)


def agent_duplicate(*, agent: Agent, name: str | None = None, actor: User | None = None) -> Agent:
    """A new agent (version 1) with the same configuration and status."""
    config = agent_config_snapshot(agent=agent)
    config.pop("ai_provider")
    config.pop("name")
    return agent_create(
        name=name or f"{agent.name} (copy)"[:200],
        ai_provider=agent.ai_provider,
        status=agent.status,
        actor=actor,
        note=f"Duplicated from agent {agent.pk} version {agent.version}",
        **config,
    )


@transaction.atomic
def agent_rollback(*, agent: Agent, version: int, actor: User | None = None) -> Agent:
    """Make the configuration of ``version`` current again, as a new version (history is never
    rewritten). Knowledge bases deleted since are left out and named in the version's note."""
    old = agent_version_get(agent=agent, number=version)
    config = {field: old.config[field] for field in CONFIG_FIELDS if field in old.config}
    wanted = config.get("knowledge_base_ids") or []
    existing = set(KnowledgeBase.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    gone = [pk for pk in wanted if pk not in existing]
    config["knowledge_base_ids"] = [pk for pk in wanted if pk in existing]
    note = f"Rolled back to version {old.number}"
    if gone:
        note += f"; knowledge bases {', '.join(map(str, gone))} no longer exist"
    return agent_update(agent=agent, data=config, actor=actor, note=note)
