"""The resolved configuration a call needs, and its cache.

Starting a call must not wait on the database, so ``agents.selectors.agent_config_resolve``
keeps each agent's resolved configuration in Redis (Django's cache; django_tenants' key
function prefixes every key with the active schema, so organizations never share entries).

Invalidation is by generation tokens rather than a bare delete, because a delete alone loses
a race: a reader that loaded the old row just before a write commits would store it again just
after the write's delete. Here the reader stores the entry together with the generations it
saw *before* reading the database; every write replaces a generation after it commits; an
entry whose generations are not the current ones is a miss. An entry depends on two:

- the agent's own, replaced by every agent service that changes what the entry holds
  (``config_cache_invalidate``);
- the organization's knowledge generation (``knowledge.generation``), replaced by the
  knowledge app whenever a knowledge base changes or is deleted. The entry lists the agent's
  knowledge bases, and this is how it notices one is gone without the knowledge app knowing
  about agents.

The warm path is one Redis MGET of the entry and both generations, and no database query.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import transaction

from agents.prompts import RenderedPrompt, prompt_render
from knowledge.generation import KNOWLEDGE_GENERATION_KEY, KNOWLEDGE_GENERATION_TTL_SECONDS

# Part of the key: bump it when ResolvedAgentConfig's fields change, so a deploy never reads
# entries written by the previous code.
_LAYOUT = 1
CONFIG_TTL_SECONDS = 24 * 3600
# Outlives the entries it guards; if it is evicted anyway, every entry simply misses once.
GENERATION_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class RenderedPrompts:
    system_prompt: str
    first_message: str
    voicemail_message: str
    # Variables the templates use that had no value, in order of first use.
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResolvedAgentConfig:
    """Everything a call needs from its agent, as plain values (``to_dict`` is JSON-safe).
    Prompt fields are templates; ``render`` fills them for one call."""

    agent_id: int
    version: int
    name: str
    status: str
    ai_provider: str
    model: str
    voice: str
    language: str
    system_prompt: str
    first_message: str
    voicemail_message: str
    prompt_variables: tuple[str, ...]
    temperature: float | None
    max_call_duration_seconds: int
    silence_timeout_seconds: int
    end_call_phrases: tuple[str, ...]
    transfer_number: str
    recording_enabled: bool
    tools: tuple[str, ...]
    knowledge_base_ids: tuple[int, ...]
    # Provider specifics with platform defaults applied (Hume: config_id, config_version).
    provider_settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def render(self, *, variables: Mapping[str, Any] | None) -> RenderedPrompts:
        parts: list[RenderedPrompt] = [
            prompt_render(template=self.system_prompt, variables=variables),
            prompt_render(template=self.first_message, variables=variables),
            prompt_render(template=self.voicemail_message, variables=variables),
        ]
        missing = dict.fromkeys(name for part in parts for name in part.missing)
        return RenderedPrompts(
            system_prompt=parts[0].text,
            first_message=parts[1].text,
            voicemail_message=parts[2].text,
            missing=tuple(missing),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        data["provider_settings"] = dict(self.provider_settings)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResolvedAgentConfig:
        values = dict(data)
        for key in ("prompt_variables", "end_call_phrases", "tools", "knowledge_base_ids"):
            values[key] = tuple(values[key])
        return cls(**values)


def _config_key(agent_id: int) -> str:
    return f"agents:config:v{_LAYOUT}:{agent_id}"


def _generation_key(agent_id: int) -> str:
    return f"agents:config-gen:{agent_id}"


def config_cache_read(*, agent_id: int) -> tuple[ResolvedAgentConfig | None, str]:
    """The cached config (None on a miss) and the generation to store a fresh one under."""
    config_key, agent_key = _config_key(agent_id), _generation_key(agent_id)
    found = cache.get_many([config_key, agent_key, KNOWLEDGE_GENERATION_KEY])
    entry = found.get(config_key)
    agent_generation = found.get(agent_key)
    knowledge_generation = found.get(KNOWLEDGE_GENERATION_KEY)
    if agent_generation is not None and knowledge_generation is not None:
        generation = f"{agent_generation}.{knowledge_generation}"
        if entry is not None and entry.get("generation") == generation:
            try:
                return ResolvedAgentConfig.from_dict(entry["config"]), generation
            except (KeyError, TypeError):
                pass  # written by code with other fields (a forgotten _LAYOUT bump): rebuild it
        return None, generation
    if agent_generation is None:
        agent_generation = _generation_start(agent_key, GENERATION_TTL_SECONDS)
    if knowledge_generation is None:
        knowledge_generation = _generation_start(
            KNOWLEDGE_GENERATION_KEY, KNOWLEDGE_GENERATION_TTL_SECONDS
        )
    return None, f"{agent_generation}.{knowledge_generation}"


def _generation_start(key: str, ttl: int) -> str:
    """A missing generation: a new one, unless a write stored one meanwhile."""
    candidate = uuid.uuid4().hex
    # add, not set: a write that bumped the generation meanwhile must win.
    if cache.add(key, candidate, ttl):
        return candidate
    current: str = cache.get(key, candidate)
    return current


def config_cache_store(*, config: ResolvedAgentConfig, generation: str) -> None:
    """Store ``config`` once the reading transaction commits: a configuration read inside a
    transaction that then rolls back must never reach the cache."""
    entry = {"generation": generation, "config": config.to_dict()}
    transaction.on_commit(
        lambda: cache.set(_config_key(config.agent_id), entry, CONFIG_TTL_SECONDS)
    )


def config_cache_invalidate(*, agent_id: int) -> None:
    """Make every cached config of the agent stale, after the current transaction commits.
    Call it from every service that changes what ``agent_config_resolve`` returns."""
    transaction.on_commit(
        lambda: cache.set(_generation_key(agent_id), uuid.uuid4().hex, GENERATION_TTL_SECONDS)
    )
