"""Which realtime providers exist, what each accepts, which credentials a session uses, and
the one place that builds a session.

``PROVIDERS`` is the catalog agent validation reads (models, voices, whether an EVI-style
config id is needed). Model and voice names are the providers' own as of the SDKs pinned in
pyproject.toml (openai 3.57.0, google-genai 3.6.1, hume 0.14.1); see docs/protocols.md,
"OpenAI Realtime" and "Gemini Live". Provider modules are imported only when a session is
built, so a deployment that never uses a provider never imports its SDK.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from django.conf import settings

from agents.realtime.base import RealtimeSession, SessionConfig
from integrations.selectors import credential_resolve
from integrations.services import credential_use_record


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What an agent on this provider may choose."""

    label: str
    session_class: str  # "module:Class", imported lazily
    # The setting holding this provider's base URL (the platform's API key is in
    # integrations.kinds, with the organizations' credentials).
    base_url_setting: str
    models: tuple[str, ...]
    default_model: str
    voices: tuple[str, ...]
    default_voice: str
    # Voice ids outside ``voices`` are accepted (custom / cloned voices).
    custom_voices: bool = False
    # The provider is configured by a config id (Hume EVI), passed in SessionConfig.extra.
    uses_config_id: bool = False


OPENAI_VOICES = (
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "marin", "sage", "shimmer", "verse",
)  # fmt: skip

# Gemini Live's prebuilt (Chirp 3 HD) voices.
GEMINI_VOICES = (
    "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe",
    "Autonoe", "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib",
    "Rasalgethi", "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux", "Pulcherrima",
    "Achird", "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
)  # fmt: skip

PROVIDERS: dict[str, ProviderInfo] = {
    "openai": ProviderInfo(
        label="OpenAI Realtime",
        session_class="agents.realtime.openai:OpenAIRealtimeSession",
        base_url_setting="OPENAI_BASE_URL",
        models=(
            "gpt-realtime",
            "gpt-realtime-mini",
            "gpt-realtime-2",
            "gpt-realtime-2.1",
            "gpt-realtime-2.1-mini",
            "gpt-realtime-1.5",
            "gpt-realtime-2025-08-28",
            "gpt-realtime-mini-2025-10-06",
            "gpt-realtime-mini-2025-12-15",
            "gpt-4o-realtime-preview",
            "gpt-4o-realtime-preview-2025-06-03",
            "gpt-4o-mini-realtime-preview",
        ),
        default_model="gpt-realtime",
        voices=OPENAI_VOICES,
        default_voice="marin",
        custom_voices=True,  # {"id": "voice_..."}
    ),
    "gemini": ProviderInfo(
        label="Gemini Live",
        session_class="agents.realtime.gemini:GeminiLiveSession",
        base_url_setting="GEMINI_BASE_URL",
        models=(
            "gemini-3.1-flash-live-preview",
            "gemini-2.5-flash-native-audio-preview-12-2025",
            "gemini-2.5-flash-native-audio-preview-09-2025",
        ),
        default_model="gemini-3.1-flash-live-preview",
        voices=GEMINI_VOICES,
        default_voice="Puck",
    ),
    "hume": ProviderInfo(
        label="Hume EVI",
        session_class="agents.realtime.hume:HumeEVISession",
        base_url_setting="HUME_BASE_URL",
        models=("evi-3",),
        default_model="evi-3",
        voices=(),  # the EVI config picks the voice; a voice id overrides it
        default_voice="",
        custom_voices=True,
        uses_config_id=True,
    ),
}


def _info(provider: str) -> ProviderInfo:
    info = PROVIDERS.get(provider)
    if info is None:
        allowed = ", ".join(sorted(PROVIDERS))
        raise ValueError(f"unknown realtime provider {provider!r}; allowed: {allowed}")
    return info


def provider_credentials(provider: str) -> tuple[str, str]:
    """``(api_key, base_url)`` for a session with ``provider`` in the active organization:
    the one place that decides which credentials a session uses. The key is the
    organization's own credential's, else the platform's (``OPENAI_API_KEY``...) where
    ``ALLOW_PLATFORM_CREDENTIALS`` allows it (``integrations.selectors.credential_resolve``);
    CredentialMissing (503, saying what to set) when there is none. The base URL stays a
    platform setting (empty: the provider's own). Sync: call it inside the tenant's schema."""
    info = _info(provider)
    credential = credential_resolve(kind=provider)
    credential_use_record(resolved=credential)
    return credential.secret, getattr(settings, info.base_url_setting)


def session_for(provider: str, config: SessionConfig) -> RealtimeSession:
    """A new, unconnected session for ``provider`` (``openai``, ``gemini`` or ``hume``)."""
    info = _info(provider)
    module_name, _, class_name = info.session_class.partition(":")
    session_class: type[RealtimeSession] = getattr(importlib.import_module(module_name), class_name)
    return session_class(config)
