"""A carrier number the organization holds, and the routing rules that pick the agent answering
a call to it.

Which organization owns a number is also recorded in the public schema
(``organizations.PhoneNumberClaim``), so a carrier webhook arriving at the main host finds the
organization; ``calls.services`` writes both in one transaction.
"""

from __future__ import annotations

from django.db import models

from calls.telephony.base import Carrier

__all__ = ["Carrier", "FallbackAction", "PhoneNumber", "RoutingRule"]


class FallbackAction(models.TextChoices):
    MESSAGE = "message", "Play a message and hang up"
    FORWARD = "forward", "Forward to a human"


class PhoneNumber(models.Model):
    """A carrier number the organization answers and calls from. ``agent`` is the default
    agent, used when no routing rule matches; ``fallback_*`` says what a caller gets when no
    agent can take the call (none matches, or the chosen one is paused)."""

    number = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +14155550100.")
    provider = models.CharField(max_length=10, choices=Carrier.choices, default=Carrier.TWILIO)
    provider_id = models.CharField(
        max_length=64, blank=True, help_text="The carrier's id (Twilio PN…, Plivo number)."
    )
    voice_enabled = models.BooleanField(default=True)
    sms_enabled = models.BooleanField(default=True)
    friendly_name = models.CharField(max_length=100, blank=True)
    agent = models.ForeignKey(
        "agents.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="phone_numbers",
        help_text="Default agent when no rule matches.",
    )
    fallback_action = models.CharField(
        max_length=10, choices=FallbackAction.choices, default=FallbackAction.MESSAGE
    )
    fallback_message = models.TextField(
        blank=True, help_text="Said before hanging up; empty = a standard apology."
    )
    fallback_forward_number = models.CharField(
        max_length=20, blank=True, help_text="E.164 number of a human, for the forward fallback."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} ({self.friendly_name})" if self.friendly_name else self.number


class RoutingRule(models.Model):
    """One rule of a number, evaluated in ``position`` order; the first that matches picks the
    agent. Empty conditions match anything. Times are in the organization's time zone; a window
    whose end is before its start runs overnight, and its after-midnight part belongs to the
    day it started on. Days are 0 = Monday … 6 = Sunday."""

    phone_number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=100, blank=True)
    caller_prefix = models.CharField(
        max_length=16, blank=True, help_text="Caller number starts with this, e.g. +1415."
    )
    caller_country = models.CharField(
        max_length=2, blank=True, help_text="Caller's country, ISO 3166 alpha-2, e.g. US."
    )
    days_of_week = models.JSONField(
        default=list, blank=True, help_text="0 = Monday … 6 = Sunday; empty = every day."
    )
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["phone_number", "position", "id"]

    def __str__(self) -> str:
        return self.name or f"rule {self.position}"
