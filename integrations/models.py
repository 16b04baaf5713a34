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


# --- tools: MCP servers and custom HTTP tools ---------------------------------------------------


class IntegrationKind(models.TextChoices):
    """What an integration's MCP server talks to. The four named kinds default to the
    platform's server of that kind (settings ``<KIND>_MCP_SERVER_URL``); ``custom`` is any MCP
    server the organization names by URL."""

    TELEGRAM = "telegram", "Telegram"
    GMAIL = "gmail", "Gmail"
    WHATSAPP = "whatsapp", "WhatsApp"
    SHOPIFY = "shopify", "Shopify"
    CUSTOM = "custom", "Other MCP server"


class McpTransport(models.TextChoices):
    STREAMABLE_HTTP = "streamable_http", "Streamable HTTP"
    SSE = "sse", "SSE (older servers)"


class Integration(models.Model):
    """One MCP server the organization's agents may use: its tools are named
    ``integration:<slug>.<tool>`` on an agent. ``url`` empty means the platform's server of
    ``kind``. ``headers`` (sent on every request) and ``auth_token`` (sent as a bearer token)
    are ciphertext in the database and never leave through the API or a log line. ``tools``
    caches the server's last tool listing (name, description, input schema), refreshed on
    demand; ``enabled_tools`` are those agents may be given. Written only by
    ``integrations.tool_services``."""

    kind = models.CharField(max_length=20, choices=IntegrationKind.choices)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=64, unique=True)
    url = models.CharField(max_length=500, blank=True)
    transport = models.CharField(
        max_length=20, choices=McpTransport.choices, default=McpTransport.STREAMABLE_HTTP
    )
    # A JSON object of header names and values, encrypted as one secret.
    headers = EncryptedSecretField()
    header_names = models.JSONField(default=list, blank=True)
    auth_token = EncryptedSecretField()
    auth_token_last_four = models.CharField(max_length=4, blank=True)
    enabled = models.BooleanField(default=True)
    enabled_tools = models.JSONField(default=list, blank=True)
    timeout_seconds = models.FloatField(default=10.0)
    tools = models.JSONField(default=list, blank=True)
    tools_listed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class CustomTool(models.Model):
    """A function the organization serves itself over HTTPS (what Vapi and Retell call custom
    functions): named ``custom:<name>`` on an agent. The product POSTs the model's arguments
    as JSON, signed with ``signing_secret`` (``integrations.signing``), and gives the JSON
    answer to the model. Written only by ``integrations.tool_services``."""

    name = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=1000, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    url = models.CharField(max_length=500)
    signing_secret = EncryptedSecretField()
    signing_secret_last_four = models.CharField(max_length=4, blank=True)
    timeout_seconds = models.FloatField(default=10.0)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExecutionSource(models.TextChoices):
    CALL = "call", "During a call"
    API = "api", "The API"
    ADMIN = "admin", "The admin"


class ToolExecution(models.Model):
    """One run of an integration's or a custom tool, from a call, the API or the admin: what
    was asked (arguments with secrets redacted), what came back or went wrong, how long it
    took. ``call_id`` is the call's id when it ran during one (a plain number: the calls app
    sits above this one). Written only by ``integrations.tool_execution``; never changed."""

    source = models.CharField(max_length=10, choices=ExecutionSource.choices)
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    custom_tool = models.ForeignKey(
        CustomTool, null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    # The server (an integration's slug, or "custom") and tool as they were named then.
    server = models.CharField(max_length=64)
    tool = models.CharField(max_length=128)
    arguments = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    ok = models.BooleanField(default=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    call_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.server}.{self.tool} ({'ok' if self.ok else self.error_code})"


# Outbound webhooks live in their own module; imported here so Django registers them.
from integrations.webhook_models import (  # noqa: E402, F401
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)
