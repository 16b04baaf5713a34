"""Models of the integrations app (tenant schema): the organization's own accounts with the
providers it talks to (carriers, AI models), their secrets encrypted at rest."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from voiceagents.secrets import EncryptedSecretField


class CredentialKind(models.TextChoices):
    """Which provider a credential is for: a carrier (``calls.telephony``) or a realtime/
    embedding model provider (``agents.realtime``, ``knowledge.embeddings``)."""

    TWILIO = "twilio", "Twilio"
    PLIVO = "plivo", "Plivo"
    OPENAI = "openai", "OpenAI"
    GEMINI = "gemini", "Gemini"
    HUME = "hume", "Hume"


class VerificationStatus(models.TextChoices):
    UNVERIFIED = "unverified", "Not verified yet"
    OK = "ok", "Works"
    FAILED = "failed", "Refused or unreachable"


class ProviderCredential(models.Model):
    """The organization's own account with one provider: what it dials, answers and speaks
    through instead of the platform's. One per kind (``kind`` is unique); ``label`` is free
    text. ``identifiers`` holds what is not secret (Twilio's account SID, Plivo's auth ID,
    Hume's config id) in clear; ``secret`` (auth token or API key) is ciphertext in the
    database and a masked :class:`voiceagents.secrets.Secret` in Python. Written only by
    ``integrations.services``."""

    kind = models.CharField(max_length=20, choices=CredentialKind.choices, unique=True)
    label = models.CharField(max_length=100, blank=True)
    identifiers = models.JSONField(default=dict, blank=True)
    secret = EncryptedSecretField()
    # What may be shown of the secret (voiceagents.secrets.last_four); empty for short ones.
    secret_last_four = models.CharField(max_length=4, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # When the secret last changed (creation counts).
    rotated_at = models.DateTimeField(default=timezone.now)
    # A hint written at most once a minute (integrations.services.credential_use_record).
    last_used_at = models.DateTimeField(null=True, blank=True)
    verification_status = models.CharField(
        max_length=12, choices=VerificationStatus.choices, default=VerificationStatus.UNVERIFIED
    )
    verification_message = models.CharField(max_length=300, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind"]
        verbose_name = "provider credential"

    def __str__(self) -> str:
        label = f" ({self.label})" if self.label else ""
        return f"{self.get_kind_display()}{label}"
