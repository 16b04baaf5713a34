"""What each kind of provider credential is made of: its identifiers (stored in clear), its
secret, and the platform settings that are the fallback when an organization has none.

Adding a provider is one entry in ``KINDS`` (and a ``CredentialKind`` member), plus its
cheap read in ``integrations.verification``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from integrations.models import CredentialKind

__all__ = ["KINDS", "IdentifierSpec", "KindSpec", "kind_spec"]


def _pattern(regex: str, example: str) -> Callable[[str], str | None]:
    compiled = re.compile(regex)

    def check(value: str) -> str | None:
        return None if compiled.fullmatch(value) else f"Expected something like {example}."

    return check


def _uuid(value: str) -> str | None:
    try:
        uuid.UUID(value)
    except ValueError:
        return "Expected a UUID (the EVI config's id)."
    return None


@dataclass(frozen=True, slots=True)
class IdentifierSpec:
    """One non-secret part of a credential."""

    name: str  # the key in ProviderCredential.identifiers and in the API
    label: str
    setting: str  # the platform's value (settings attribute)
    env: str  # what an operator sets, for messages
    required: bool
    check: Callable[[str], str | None]  # None when valid, else what is wrong


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: str
    label: str
    identifiers: tuple[IdentifierSpec, ...]
    secret_label: str
    # The platform's secret (settings attribute and environment variable). Where the
    # provider's API is stays a platform setting (TWILIO_API_BASE_URL, OPENAI_BASE_URL...).
    secret_setting: str

    @property
    def platform_settings(self) -> tuple[str, ...]:
        """The environment variables that make the platform's own account usable."""
        return (*(i.env for i in self.identifiers if i.required), self.secret_setting)


KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            kind=CredentialKind.TWILIO,
            label="Twilio",
            identifiers=(
                IdentifierSpec(
                    name="account_sid",
                    label="Account SID",
                    setting="TWILIO_ACCOUNT_ID",
                    env="TWILIO_ACCOUNT_SID",
                    required=True,
                    check=_pattern(r"AC[0-9a-fA-F]{32}", "AC followed by 32 hex digits"),
                ),
            ),
            secret_label="auth token",
            secret_setting="TWILIO_AUTH_TOKEN",
        ),
        KindSpec(
            kind=CredentialKind.PLIVO,
            label="Plivo",
            identifiers=(
                IdentifierSpec(
                    name="auth_id",
                    label="Auth ID",
                    setting="PLIVO_AUTH_ID",
                    env="PLIVO_AUTH_ID",
                    required=True,
                    check=_pattern(r"[A-Z0-9]{10,40}", "MAXXXXXXXXXXXXXXXXXX"),
                ),
            ),
            secret_label="auth token",
            secret_setting="PLIVO_AUTH_TOKEN",
        ),
        KindSpec(
            kind=CredentialKind.OPENAI,
            label="OpenAI",
            identifiers=(),
            secret_label="API key",
            secret_setting="OPENAI_API_KEY",
        ),
        KindSpec(
            kind=CredentialKind.GEMINI,
            label="Gemini",
            identifiers=(),
            secret_label="API key",
            secret_setting="GEMINI_API_KEY",
        ),
        KindSpec(
            kind=CredentialKind.HUME,
            label="Hume",
            identifiers=(
                IdentifierSpec(
                    name="config_id",
                    label="EVI config id",
                    setting="HUME_CONFIG_ID",
                    env="HUME_CONFIG_ID",
                    required=False,
                    check=_uuid,
                ),
            ),
            secret_label="API key",
            secret_setting="HUME_API_KEY",
        ),
    )
}
if set(KINDS) != set(CredentialKind.values):
    raise RuntimeError("integrations.models.CredentialKind and integrations.kinds.KINDS differ")


def kind_spec(kind: str) -> KindSpec:
    """The spec of ``kind``; ValueError for a kind we do not know."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown credential kind {kind!r} (known: {', '.join(sorted(KINDS))})"
        ) from None
