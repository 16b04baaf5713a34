"""The console's sidebar on an organization's domain (settings.UNFOLD["SIDEBAR"]): the product's
areas, each a group of links to the admin pages behind it. A link shows only when the user's
role may view its page: the page's own ModelAdmin decides (organizations.admin_mixins), so the
sidebar and the page never disagree. An area left with no link is hidden by the theme.

Pages are named by model label and admin URL name, never imported: this module sits below the
apps whose pages it lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse

# (area, [(title, Material Symbols icon, model label)]); a model's link is its change list.
_AREAS: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("Agents", [("Agents", "support_agent", "agents.Agent")]),
    ("Calls", [("Calls", "call", "calls.Call"), ("Messages", "sms", "calls.Message")]),
    (
        "Batches",
        [
            ("Batches", "list_alt", "calls.Batch"),
            ("Batch rows", "table_rows", "calls.BatchRow"),
            ("Do-not-call list", "block", "calls.DoNotCallEntry"),
        ],
    ),
    (
        "Schedules",
        [
            ("Schedules", "schedule", "calls.ScheduledCall"),
            ("Scheduled runs", "history", "calls.ScheduledRun"),
        ],
    ),
    (
        "Knowledge",
        [
            ("Knowledge bases", "menu_book", "knowledge.KnowledgeBase"),
            ("Documents", "description", "knowledge.Document"),
        ],
    ),
    ("Numbers", [("Phone numbers", "dialpad", "calls.PhoneNumber")]),
    (
        "Integrations",
        [
            ("Integrations", "extension", "integrations.Integration"),
            ("Custom tools", "build", "integrations.CustomTool"),
            ("Tool executions", "terminal", "integrations.ToolExecution"),
        ],
    ),
    (
        "Settings",
        [
            # The organization's settings, with its members and invitations a tab away.
            ("Organization", "tune", "organizations.Organization"),
            ("Members", "group", "organizations.Membership"),
            ("API keys", "key", "organizations.ApiKey"),
            ("Credentials", "lock", "integrations.ProviderCredential"),
            ("Webhooks", "webhook", "integrations.WebhookEndpoint"),
            ("Webhook deliveries", "outbox", "integrations.WebhookDelivery"),
            ("Audit events", "policy", "organizations.AuditEvent"),
        ],
    ),
]


def _may_view(label: str) -> Callable[[HttpRequest], bool]:
    """The theme's permission callback for a model's pages: its ModelAdmin's view right."""

    def check(request: HttpRequest) -> bool:
        model_admin = admin.site._registry.get(apps.get_model(label))
        return model_admin is not None and bool(model_admin.has_view_permission(request))

    return check


def _changelist_url(label: str) -> str:
    meta = apps.get_model(label)._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")


def console_navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """The sidebar's groups, in the theme's shape (title, items of title, icon, link and
    permission)."""
    groups: list[dict[str, Any]] = [
        {"items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}]}
    ]
    for area, pages in _AREAS:
        groups.append(
            {
                "title": area,
                "separator": False,
                "items": [
                    {
                        "title": title,
                        "icon": icon,
                        "link": _changelist_url(label),
                        "permission": _may_view(label),
                    }
                    for title, icon, label in pages
                    # A page not registered on this site (yet) is left out, not a broken link.
                    if apps.get_model(label) in admin.site._registry
                ],
            }
        )
    return groups
