"""Agents (tenant schema): the AI persona that answers and places calls, and its immutable
configuration versions."""

from __future__ import annotations

from django.db import models


class AIProvider(models.TextChoices):
    """The realtime AI provider an agent talks through. The same providers, with the same
    labels, as the session catalog ``agents.realtime.registry.PROVIDERS`` (a test checks it)."""

    OPENAI = "openai", "OpenAI Realtime"
    GEMINI = "gemini", "Gemini Live"
    HUME = "hume", "Hume EVI"


class AgentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


# Sizes of an agent's free text (docs/api.md "Limits"), checked by agents.validation for the
# API, the admin and code alike. A prompt is copied into every version and sent to the model at
# the start of each call: 32,000 characters is about 8,000 tokens.
NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2_000
PROMPT_MAX_LENGTH = 32_000
MESSAGE_MAX_LENGTH = 2_000  # what the agent says: the first message, the voicemail


class AgentQuerySet(models.QuerySet["Agent"]):
    def alive(self) -> AgentQuerySet:
        return self.filter(deleted_at__isnull=True)


class Agent(models.Model):
    """A voice persona. Deleting one is a soft delete (``deleted_at``) so the calls it made keep
    their agent and version."""

    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    ai_provider = models.CharField(
        max_length=10, choices=AIProvider.choices, default=AIProvider.OPENAI
    )
    model = models.CharField(max_length=100, blank=True)
    voice = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=20, default="en")
    system_prompt = models.TextField(blank=True, max_length=PROMPT_MAX_LENGTH)
    first_message = models.TextField(
        blank=True,
        max_length=MESSAGE_MAX_LENGTH,
        help_text="Said when the call connects; empty = wait for the caller.",
    )
    temperature = models.FloatField(null=True, blank=True)
    max_call_duration_seconds = models.PositiveIntegerField(default=600)
    silence_timeout_seconds = models.PositiveIntegerField(default=20)
    end_call_phrases = models.JSONField(default=list, blank=True)
    voicemail_message = models.TextField(blank=True, max_length=MESSAGE_MAX_LENGTH)
    transfer_number = models.CharField(max_length=20, blank=True)
    recording_enabled = models.BooleanField(default=False)
    tools = models.JSONField(
        default=list,
        blank=True,
        help_text="Enabled tools: end_call, transfer_call, knowledge_search, integration tools.",
    )
    knowledge_bases = models.ManyToManyField(
        "knowledge.KnowledgeBase", blank=True, related_name="agents"
    )
    provider_config = models.JSONField(
        default=dict, blank=True, help_text="Provider specifics, e.g. Hume's config_id."
    )
    analysis_schema = models.JSONField(
        default=dict,
        blank=True,
        help_text="The fields post-call analysis extracts (a JSON schema object of typed "
        'properties, e.g. {"appointment_booked": {"type": "boolean"}}); empty: none.',
    )
    status = models.CharField(
        max_length=10, choices=AgentStatus.choices, default=AgentStatus.ACTIVE
    )
    version = models.PositiveIntegerField(default=1, help_text="Current version number.")
    created_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["ai_provider", "status"])]

    def __str__(self) -> str:
        return self.name


class AgentVersion(models.Model):
    """An immutable snapshot of an agent's configuration. Calls record the version they used."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    config = models.JSONField()
    changed_fields = models.JSONField(default=list)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agent", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "number"], name="uniq_agent_version")
        ]

    def __str__(self) -> str:
        return f"{self.agent} v{self.number}"
