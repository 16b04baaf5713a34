"""What an agent's configuration may hold, checked once for the API, the admin and code alike.

The provider catalog (models, voices, whether a Hume-style config id is used) is
``agents.realtime.registry.PROVIDERS``, the same table the call bridge builds sessions from,
so an agent that saves is an agent whose session can be opened. A wrong combination is a
ValidationFailed naming the field and the allowed values, never a failure in the middle of a
call.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from agents.analysis_schema import analysis_schema_clean
from agents.models import (
    DESCRIPTION_MAX_LENGTH,
    MESSAGE_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PROMPT_MAX_LENGTH,
)
from agents.realtime.registry import PROVIDERS, ProviderInfo
from integrations.selectors import credential_identifier
from integrations.tool_selectors import tool_names_problems
from knowledge.models import KnowledgeBase
from voiceagents.exceptions import ValidationFailed
from voiceagents.phone import to_e164

# The fields an AgentVersion snapshots. ``status`` is left out on purpose: pausing an agent is
# an operational switch, not configuration, and rolling back must never un-pause an agent.
CONFIG_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "ai_provider",
    "model",
    "voice",
    "language",
    "system_prompt",
    "first_message",
    "temperature",
    "max_call_duration_seconds",
    "silence_timeout_seconds",
    "end_call_phrases",
    "voicemail_message",
    "transfer_number",
    "recording_enabled",
    "tools",
    "knowledge_base_ids",
    "provider_config",
    "analysis_schema",
)
# The free text of an agent and its most characters (agents.models).
TEXT_LIMITS: dict[str, int] = {
    "name": NAME_MAX_LENGTH,
    "description": DESCRIPTION_MAX_LENGTH,
    "system_prompt": PROMPT_MAX_LENGTH,
    "first_message": MESSAGE_MAX_LENGTH,
    "voicemail_message": MESSAGE_MAX_LENGTH,
}
LONG_TEXT_FIELDS = frozenset({"description", "system_prompt", "first_message", "voicemail_message"})

# ``send_sms`` is the calls app's (it registers it with agents.tools when it loads).
BUILTIN_TOOLS: tuple[str, ...] = ("end_call", "transfer_call", "knowledge_search", "send_sms")
# Tools an integration's MCP server exposes: ``integration:<server>.<tool>``.
INTEGRATION_TOOL_RE = re.compile(
    r"^integration:[a-z0-9][a-z0-9_-]{0,63}\.[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$"
)
INTEGRATION_TOOL_PATTERN = "integration:<server>.<tool>"
# The organization's custom HTTP tools: ``custom:<name>``.
CUSTOM_TOOL_RE = re.compile(r"^custom:[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
CUSTOM_TOOL_PATTERN = "custom:<name>"

# Providers that accept voices outside their catalog say what such an id looks like, so a typo
# of a stock voice ("nova") is refused instead of failing when the call connects.
_CUSTOM_VOICE_RE: dict[str, tuple[re.Pattern[str], str]] = {
    "openai": (re.compile(r"^voice_[A-Za-z0-9]{1,64}$"), "a custom voice id voice_..."),
}
_DEFAULT_CUSTOM_VOICE_RE = (re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"), "a voice id")

# Provider settings an agent may store; only config-id providers (Hume EVI) take any today.
_CONFIG_ID_KEYS = ("config_id", "config_version")

TEMPERATURE_RANGE = (0.0, 2.0)
MAX_CALL_DURATION_RANGE = (30, 4 * 3600)
SILENCE_TIMEOUT_RANGE = (3, 600)
MAX_END_CALL_PHRASES = 50
MAX_TOOLS = 50
MAX_KNOWLEDGE_BASES = 20
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}
        self.allowed: dict[str, list[Any]] = {}

    def add(self, field: str, message: str, allowed: Iterable[Any] | None = None) -> None:
        self.fields.setdefault(field, []).append(message)
        if allowed is not None:
            self.allowed[field] = list(allowed)

    def raise_if_any(self) -> None:
        if self.fields:
            details: dict[str, Any] = {"fields": self.fields}
            if self.allowed:
                details["allowed"] = self.allowed
            raise ValidationFailed(
                "Some fields are not valid: " + ", ".join(sorted(self.fields)) + ".",
                details=details,
            )


def agent_config_clean(*, config: dict[str, Any]) -> dict[str, Any]:
    """Check a complete configuration (every CONFIG_FIELDS key) and return it normalised:
    provider defaults filled in, the transfer number in E.164, lists de-duplicated.
    Raises ValidationFailed listing every invalid field at once. Reads the active tenant's
    knowledge bases, so call it with the agent's schema active."""
    errors = _Errors()
    out = dict(config)

    name = (out.get("name") or "").strip()
    if not name:
        errors.add("name", "An agent needs a name.")
    out["name"] = name

    provider = out.get("ai_provider")
    if not isinstance(provider, str) or (info := PROVIDERS.get(provider)) is None:
        errors.add(
            "ai_provider",
            f"Unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}.",
            allowed=PROVIDERS,
        )
    else:
        _clean_provider_choices(out, provider, info, errors)

    language = out.get("language") or "en"
    if not isinstance(language, str) or not _LANGUAGE_RE.match(language):
        errors.add("language", "Use a language tag such as en, de or pt-BR.")
    out["language"] = language

    _clean_numbers(out, errors)
    out["end_call_phrases"] = _clean_phrases(out.get("end_call_phrases"), errors)
    out["transfer_number"] = _clean_transfer_number(out.get("transfer_number"), errors)
    out["tools"] = _clean_tools(out.get("tools"), out["transfer_number"], errors)
    out["knowledge_base_ids"] = _clean_knowledge_bases(out.get("knowledge_base_ids"), errors)
    for field in LONG_TEXT_FIELDS:
        # Stripped like every form and serializer strips, so a save from any of them with the
        # same text is not a change.
        out[field] = (out.get(field) or "").strip()
    for field, limit in TEXT_LIMITS.items():
        if len(out[field]) > limit:
            errors.add(field, f"At most {limit:,} characters; this has {len(out[field]):,}.")
    out["recording_enabled"] = bool(out.get("recording_enabled"))
    out["analysis_schema"], schema_problems = analysis_schema_clean(out.get("analysis_schema"))
    for problem in schema_problems:
        errors.add("analysis_schema", problem)

    errors.raise_if_any()
    return out


def _clean_provider_choices(
    out: dict[str, Any], provider: str, info: ProviderInfo, errors: _Errors
) -> None:
    model = out.get("model") or info.default_model
    if model not in info.models:
        errors.add(
            "model",
            f"{model!r} is not a {provider} model; choose one of: {', '.join(info.models)}.",
            allowed=info.models,
        )
    out["model"] = model

    voice = out.get("voice") or info.default_voice
    if voice and voice not in info.voices:
        pattern, what = _CUSTOM_VOICE_RE.get(provider, _DEFAULT_CUSTOM_VOICE_RE)
        if not (info.custom_voices and pattern.match(voice)):
            accepted = ", ".join(info.voices)
            if info.custom_voices:
                accepted = f"{accepted} or {what}" if accepted else what
            errors.add(
                "voice",
                f"{voice!r} is not a {provider} voice; choose one of: {accepted}.",
                allowed=info.voices,
            )
    out["voice"] = voice

    provider_config = out.get("provider_config") or {}
    if not isinstance(provider_config, dict):
        errors.add("provider_config", "Provider settings must be an object.")
        return
    allowed_keys = _CONFIG_ID_KEYS if info.uses_config_id else ()
    unknown = sorted(set(provider_config) - set(allowed_keys))
    if unknown:
        takes = ", ".join(allowed_keys) if allowed_keys else "no settings"
        errors.add(
            "provider_config",
            f"{provider} does not use {', '.join(unknown)}; it takes {takes}.",
            allowed=allowed_keys,
        )
    provider_config = dict(provider_config)
    if info.uses_config_id:
        # The default belongs to the account the key comes from: the organization's own
        # credential's config id, else the platform's HUME_CONFIG_ID.
        config_id = provider_config.get("config_id") or credential_identifier(
            kind=provider, name="config_id"
        )
        if config_id:
            try:
                provider_config["config_id"] = str(uuid.UUID(str(config_id)))
            except ValueError:
                errors.add(
                    "provider_config",
                    f"config_id {config_id!r} is not a {provider} config id (a UUID).",
                )
        else:
            # No id anywhere: EVI then uses Hume's default config, which is a valid choice.
            provider_config.pop("config_id", None)
        version = provider_config.get("config_version")
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 0
        ):
            errors.add("provider_config", "config_version must be a whole number.")
    out["provider_config"] = provider_config


def _in_range(value: Any, bounds: tuple[float, float], *, integer: bool) -> bool:
    kinds = (int,) if integer else (int, float)
    return (
        isinstance(value, kinds) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]
    )


def _clean_numbers(out: dict[str, Any], errors: _Errors) -> None:
    temperature = out.get("temperature")
    if temperature is not None:
        if not _in_range(temperature, TEMPERATURE_RANGE, integer=False):
            low, high = TEMPERATURE_RANGE
            errors.add("temperature", f"Temperature must be between {low} and {high}, or empty.")
        else:
            out["temperature"] = float(temperature)

    for field, bounds in (
        ("max_call_duration_seconds", MAX_CALL_DURATION_RANGE),
        ("silence_timeout_seconds", SILENCE_TIMEOUT_RANGE),
    ):
        if not _in_range(out.get(field), bounds, integer=True):
            errors.add(field, f"Use a whole number of seconds from {bounds[0]} to {bounds[1]}.")


def _clean_phrases(value: Any, errors: _Errors) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.add("end_call_phrases", "Give a list of phrases.")
        return []
    phrases = list(dict.fromkeys(item.strip() for item in value if item.strip()))
    if len(phrases) > MAX_END_CALL_PHRASES:
        errors.add("end_call_phrases", f"At most {MAX_END_CALL_PHRASES} phrases.")
    if any(len(phrase) > 200 for phrase in phrases):
        errors.add("end_call_phrases", "A phrase may have at most 200 characters.")
    return phrases


def _clean_transfer_number(value: Any, errors: _Errors) -> str:
    if not value:
        return ""
    number = to_e164(value)
    if number is None:
        errors.add(
            "transfer_number",
            f"{value!r} is not a valid phone number in E.164 form, e.g. +14155550123.",
        )
        return value if isinstance(value, str) else ""
    return number


def _clean_tools(value: Any, transfer_number: str, errors: _Errors) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.add("tools", "Give a list of tool names.")
        return []
    tools = list(dict.fromkeys(item.strip() for item in value))
    if len(tools) > MAX_TOOLS:
        errors.add("tools", f"At most {MAX_TOOLS} tools.")
        return tools
    allowed = [*BUILTIN_TOOLS, INTEGRATION_TOOL_PATTERN, CUSTOM_TOOL_PATTERN]
    named = []
    for tool in tools:
        if INTEGRATION_TOOL_RE.match(tool) or CUSTOM_TOOL_RE.match(tool):
            named.append(tool)
        elif tool not in BUILTIN_TOOLS:
            errors.add(
                "tools", f"Unknown tool {tool!r}; choose from: {', '.join(allowed)}.", allowed
            )
    # An integration's or custom tool must resolve now (the active schema is the agent's
    # organization), not be dropped silently when a call starts.
    for tool, problem in tool_names_problems(named).items():
        errors.add("tools", f"{tool}: {problem}")
    # Enabling the tool without a number would let the model promise a transfer it cannot make.
    if "transfer_call" in tools and not transfer_number:
        errors.add("transfer_number", "The transfer_call tool needs a transfer number.")
    return tools


def _clean_knowledge_bases(value: Any, errors: _Errors) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        errors.add("knowledge_base_ids", "Give a list of knowledge base ids.")
        return []
    ids = sorted(set(value))
    if len(ids) > MAX_KNOWLEDGE_BASES:
        errors.add("knowledge_base_ids", f"At most {MAX_KNOWLEDGE_BASES} knowledge bases.")
        return ids
    # The active schema is the agent's organization, so another tenant's id is simply absent
    # and gets the same answer as an id that never existed.
    found = set(KnowledgeBase.objects.filter(pk__in=ids).values_list("pk", flat=True))
    for missing in (pk for pk in ids if pk not in found):
        errors.add("knowledge_base_ids", f"Knowledge base {missing} does not exist.")
    return ids
