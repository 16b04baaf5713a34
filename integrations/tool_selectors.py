"""Reads of the organization's tools: integrations (MCP servers), custom tools and their
executions, in the active tenant schema; and the *targets* a tool runs against, with the
credentials decrypted, for the client being built (``integrations.tool_execution``).

An agent's tool names resolve here too: at save time (``tool_names_problems``, which agents'
validation calls) and when a call starts (``tool_targets_for``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from integrations.exceptions import (
    CredentialUnreadable,
    CustomToolNotFound,
    IntegrationNotFound,
    ToolExecutionNotFound,
    ToolNotEnabled,
    ToolUnknown,
)
from integrations.mcp import McpServerConfig
from integrations.models import CustomTool, Integration, IntegrationKind, ToolExecution
from integrations.tool_rules import (
    CUSTOM_SERVER,
    address_policy,
    model_tool_name,
    tool_name_parse,
)
from voiceagents import secrets
from voiceagents.netguard import AddressPolicy

__all__ = [
    "CustomToolTarget",
    "McpToolTarget",
    "PLATFORM_URL_SETTINGS",
    "ToolTarget",
    "custom_tool_get",
    "custom_tool_list",
    "custom_tool_target",
    "integration_find",
    "integration_get",
    "integration_list",
    "integration_server_config",
    "integration_tool_target",
    "integration_url",
    "tool_execution_get",
    "tool_execution_list",
    "tool_names_problems",
    "tool_targets_for",
]

# The platform's MCP server of each named kind (the URL of an integration that gives none).
PLATFORM_URL_SETTINGS: dict[str, str] = {
    IntegrationKind.TELEGRAM: "TELE_MCP_SERVER_URL",
    IntegrationKind.GMAIL: "GMAIL_MCP_SERVER_URL",
    IntegrationKind.WHATSAPP: "WHATSAPP_MCP_SERVER_URL",
    IntegrationKind.SHOPIFY: "SHOPIFY_MCP_SERVER_URL",
}


@dataclass(frozen=True, slots=True)
class McpToolTarget:
    """One tool of one integration, ready to call: its schema and its server's config."""

    integration_id: int
    server: str
    tool: str
    description: str
    input_schema: dict[str, Any]
    config: McpServerConfig
    # The integration's secret values, so executions can redact them from arguments.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def model_name(self) -> str:
        return model_tool_name(self.server, self.tool)

    @property
    def timeout_seconds(self) -> float:
        return self.config.timeout_seconds


@dataclass(frozen=True, slots=True)
class CustomToolTarget:
    custom_tool_id: int
    tool: str
    description: str
    input_schema: dict[str, Any]
    url: str
    signing_secret: str = field(repr=False)
    timeout_seconds: float
    policy: AddressPolicy
    server: str = CUSTOM_SERVER
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def model_name(self) -> str:
        return model_tool_name(self.server, self.tool)


ToolTarget = McpToolTarget | CustomToolTarget


# --- integrations --------------------------------------------------------------------------------


def integration_list() -> QuerySet[Integration]:
    return Integration.objects.select_related("created_by").order_by("slug")


def integration_get(*, integration_id: Any) -> Integration:
    """The integration by id; IntegrationNotFound for a missing one and for a malformed id
    alike (another organization's rows are simply not in this schema)."""
    try:
        return integration_list().get(pk=int(integration_id))
    except (Integration.DoesNotExist, TypeError, ValueError, OverflowError):
        raise IntegrationNotFound() from None


def integration_find(ref: Any) -> Integration:
    """The integration a caller names by id, slug or kind (``execute_tool("telegram", ...)``):
    an id first, then a slug, then the one integration of that kind."""
    text = str(ref).strip()
    if text.isdigit():
        found = Integration.objects.filter(pk=int(text)).first()
        if found is not None:
            return found
    found = Integration.objects.filter(slug=text).first()
    if found is not None:
        return found
    of_kind = list(Integration.objects.filter(kind=text)[:2])
    if len(of_kind) == 1:
        return of_kind[0]
    raise IntegrationNotFound(
        f"No integration is named {text!r}"
        + (" (several of that kind: name one by its slug)." if of_kind else "."),
        details={"integration": text},
    )


def integration_url(integration: Integration) -> str:
    """Where its server is: its own URL, else the platform's server of its kind."""
    if integration.url:
        return integration.url
    setting = PLATFORM_URL_SETTINGS.get(integration.kind)
    return str(getattr(settings, setting, "") or "") if setting else ""


def _revealed(integration: Integration, value: secrets.Secret) -> str:
    if not value:
        return ""
    try:
        return value.reveal()
    except secrets.SecretDecryptionFailed:
        raise CredentialUnreadable(
            f"The credentials of the integration {integration.slug} cannot be decrypted with "
            "the configured SECRETS_ENCRYPTION_KEYS.",
            details={"integration_id": integration.pk},
        ) from None


def integration_server_config(integration: Integration) -> tuple[McpServerConfig, tuple[str, ...]]:
    """How to reach the integration's server, and its secret values (for redaction)."""
    headers: dict[str, str] = {}
    raw = _revealed(integration, integration.headers)
    if raw:
        headers.update(json.loads(raw))
    token = _revealed(integration, integration.auth_token)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    config = McpServerConfig(
        label=integration.slug,
        url=integration_url(integration),
        transport=integration.transport,
        headers=headers,
        timeout_seconds=float(integration.timeout_seconds),
        # The platform's own servers are trusted; a URL the organization gave is not.
        policy=address_policy() if integration.url else None,
    )
    return config, tuple(value for value in [*headers.values(), token] if value)


def _listed(integration: Integration, tool: str) -> dict[str, Any] | None:
    return next((t for t in integration.tools or [] if t.get("name") == tool), None)


def integration_tool_target(
    integration: Integration, tool: str, *, require_enabled: bool = True
) -> McpToolTarget:
    """The target for ``tool`` of ``integration`` from its cached listing: ToolUnknown when
    the listing does not have it, ToolNotEnabled when agents may not use it."""
    listed = _listed(integration, tool)
    if listed is None:
        raise ToolUnknown(
            f"The MCP server of {integration.slug} does not list a tool {tool!r}"
            + ("" if integration.tools_listed_at else " (its tools were never listed)")
            + ".",
            details={"server": integration.slug, "tool": tool},
        )
    if require_enabled and tool not in (integration.enabled_tools or []):
        raise ToolNotEnabled(
            f"The tool {tool!r} is not enabled on the integration {integration.slug}.",
            details={"server": integration.slug, "tool": tool},
        )
    config, secret_values = integration_server_config(integration)
    return McpToolTarget(
        integration_id=integration.pk,
        server=integration.slug,
        tool=tool,
        description=str(listed.get("description") or ""),
        input_schema=dict(listed.get("input_schema") or {"type": "object"}),
        config=config,
        secrets=secret_values,
    )


# --- custom tools --------------------------------------------------------------------------------


def custom_tool_list() -> QuerySet[CustomTool]:
    return CustomTool.objects.select_related("created_by").order_by("name")


def custom_tool_get(*, custom_tool_id: Any) -> CustomTool:
    try:
        return custom_tool_list().get(pk=int(custom_tool_id))
    except (CustomTool.DoesNotExist, TypeError, ValueError, OverflowError):
        raise CustomToolNotFound() from None


def custom_tool_target(tool: CustomTool) -> CustomToolTarget:
    try:
        secret = tool.signing_secret.reveal() if tool.signing_secret else ""
    except secrets.SecretDecryptionFailed:
        raise CredentialUnreadable(
            f"The signing secret of the custom tool {tool.name} cannot be decrypted.",
            details={"custom_tool_id": tool.pk},
        ) from None
    return CustomToolTarget(
        custom_tool_id=tool.pk,
        tool=tool.name,
        description=tool.description,
        input_schema=dict(tool.parameters or {"type": "object", "properties": {}}),
        url=tool.url,
        signing_secret=secret,
        timeout_seconds=float(tool.timeout_seconds),
        policy=address_policy(),
        secrets=(secret,) if secret else (),
    )


# --- agents' tool names --------------------------------------------------------------------------


def tool_names_problems(names: Iterable[str]) -> dict[str, str]:
    """For each ``integration:``/``custom:`` name in ``names`` that would not run in a call
    (no such integration or custom tool, disabled, the tool not listed or not enabled), what
    is wrong. Other names are not looked at. Two queries at most."""
    parsed = {name: tool_name_parse(name) for name in names}
    slugs = {p.server for p in parsed.values() if p and p.kind == "integration"}
    customs = {p.tool for p in parsed.values() if p and p.kind == "custom"}
    integrations = {i.slug: i for i in Integration.objects.filter(slug__in=slugs)} if slugs else {}
    custom_tools = (
        {t.name: t for t in CustomTool.objects.filter(name__in=customs)} if customs else {}
    )
    problems: dict[str, str] = {}
    for name, tool_name in parsed.items():
        if tool_name is None:
            continue
        if tool_name.kind == "custom":
            custom = custom_tools.get(tool_name.tool)
            if custom is None:
                problems[name] = f"There is no custom tool {tool_name.tool!r}."
            elif not custom.enabled:
                problems[name] = f"The custom tool {tool_name.tool!r} is disabled."
            continue
        integration = integrations.get(tool_name.server)
        if integration is None:
            problems[name] = f"There is no integration {tool_name.server!r}."
        elif not integration.enabled:
            problems[name] = f"The integration {tool_name.server!r} is disabled."
        elif _listed(integration, tool_name.tool) is None:
            problems[name] = (
                f"The integration {tool_name.server!r} does not list a tool "
                f"{tool_name.tool!r} (list its tools again if the server has it now)."
            )
        elif tool_name.tool not in (integration.enabled_tools or []):
            problems[name] = (
                f"The tool {tool_name.tool!r} is not enabled on the integration "
                f"{tool_name.server!r}."
            )
    return problems


def tool_targets_for(names: Iterable[str]) -> dict[str, ToolTarget]:
    """The targets of an agent's ``integration:``/``custom:`` names that resolve now, by
    agent name (a call starting; names that stopped resolving since the agent was saved are
    left out, and the caller logs them)."""
    wanted = list(names)
    problems = tool_names_problems(wanted)
    parsed = {name: tool_name_parse(name) for name in wanted if name not in problems}
    slugs = {p.server for p in parsed.values() if p and p.kind == "integration"}
    customs = {p.tool for p in parsed.values() if p and p.kind == "custom"}
    integrations = {i.slug: i for i in Integration.objects.filter(slug__in=slugs)} if slugs else {}
    custom_tools = (
        {t.name: t for t in CustomTool.objects.filter(name__in=customs)} if customs else {}
    )
    targets: dict[str, ToolTarget] = {}
    for name, tool_name in parsed.items():
        if tool_name is None:
            continue
        if tool_name.kind == "custom":
            targets[name] = custom_tool_target(custom_tools[tool_name.tool])
        else:
            targets[name] = integration_tool_target(integrations[tool_name.server], tool_name.tool)
    return targets


# --- executions ----------------------------------------------------------------------------------


def tool_execution_list() -> QuerySet[ToolExecution]:
    return ToolExecution.objects.select_related("actor").order_by("-created_at", "-id")


def tool_execution_get(*, execution_id: Any) -> ToolExecution:
    try:
        return tool_execution_list().get(pk=int(execution_id))
    except (ToolExecution.DoesNotExist, TypeError, ValueError, OverflowError):
        raise ToolExecutionNotFound() from None
