"""Writes of the organization's tools: integrations (MCP servers) and custom tools, each
change an audit event; and the refresh of an integration's cached tool listing.

Header values, bearer tokens and signing secrets enter here, are encrypted by the model
field, and leave only through ``integrations.tool_selectors`` into a client being built. A
new signing secret is returned once, to the caller that created or rotated it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import structlog
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django_tenants.utils import get_public_schema_name

from integrations.exceptions import (
    CustomToolNameTaken,
    IntegrationSlugTaken,
    ToolError,
)
from integrations.mcp import mcp_tools_list
from integrations.models import CustomTool, Integration, IntegrationKind, McpTransport
from integrations.signing import signing_secret_generate
from integrations.tool_rules import (
    SERVER_SLUG_RE,
    TOOL_NAME_RE,
    parameters_schema_problem,
    url_problem,
)
from integrations.tool_selectors import (
    PLATFORM_URL_SETTINGS,
    integration_server_config,
)
from organizations.models import ApiKey, Organization, User
from organizations.services import audit_record
from voiceagents import secrets
from voiceagents.exceptions import ValidationFailed

__all__ = [
    "TIMEOUT_RANGE",
    "custom_tool_clean",
    "custom_tool_create",
    "custom_tool_delete",
    "custom_tool_update",
    "integration_clean",
    "integration_create",
    "integration_delete",
    "integration_tools_refresh",
    "integration_update",
]

logger = structlog.get_logger(__name__)

TIMEOUT_RANGE = (1.0, 60.0)
MAX_HEADERS = 20
MAX_ENABLED_TOOLS = 100
_HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
# Headers the HTTP client and the MCP transport set themselves.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "accept",
        "mcp-session-id",
        "mcp-protocol-version",
        "authorization",
    }
)
# A slug that would read as the custom tools' server in executions.
_RESERVED_SLUGS = frozenset({"custom"})


def _organization() -> Organization:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Organization):
        return tenant
    schema: str = getattr(connection, "schema_name", get_public_schema_name())
    return Organization.objects.get(schema_name=schema)


def _audit(
    action: str,
    target_type: str,
    target: Integration | CustomTool,
    *,
    actor: User | None,
    api_key: ApiKey | None,
    **data: Any,
) -> None:
    audit_record(
        organization=_organization(),
        action=action,
        target_type=target_type,
        target_id=target.pk,
        actor=actor,
        api_key=api_key,
        data=data,
    )


class _Problems:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationFailed.for_fields(self.fields)


def _text(value: Any, field: str, limit: int, problems: _Problems, *, required: bool) -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        problems.add(field, "This field is required.")
    if len(text) > limit:
        problems.add(field, f"At most {limit} characters.")
    return text


def _timeout(value: Any, problems: _Problems) -> float:
    low, high = TIMEOUT_RANGE
    if value is None:
        return float(min(max(settings.INTEGRATION_TOOL_TIMEOUT, low), high))
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        problems.add("timeout_seconds", f"Give a number of seconds from {low:g} to {high:g}.")
        return low
    return float(value)


def _headers(value: Any, problems: _Problems) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        problems.add("headers", "Give an object of header names and values.")
        return {}
    if len(value) > MAX_HEADERS:
        problems.add("headers", f"At most {MAX_HEADERS} headers.")
    cleaned: dict[str, str] = {}
    for name, header_value in value.items():
        name = str(name).strip()
        if not _HEADER_NAME_RE.match(name):
            problems.add("headers", f"{name[:40]!r} is not a header name.")
            continue
        if name.lower() in _RESERVED_HEADERS:
            problems.add(
                "headers",
                f"{name} is set by the client"
                + (" (give the token as auth_token)." if name.lower() == "authorization" else "."),
            )
            continue
        text = str(header_value if header_value is not None else "")
        if any(ch in text for ch in "\r\n\x00") or len(text) > 4000:
            problems.add("headers", f"The value of {name} is not a valid header value.")
            continue
        cleaned[name] = text
    return cleaned


def _token(value: Any, problems: _Problems) -> str:
    token = str(value or "").strip()
    if len(token) > 4000 or any(ch.isspace() for ch in token):
        problems.add("auth_token", "This is not a bearer token.")
    return token


def _enabled_tools(
    value: Any, listed: list[dict[str, Any]] | None, problems: _Problems
) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add("enabled_tools", "Give a list of tool names.")
        return []
    names = list(dict.fromkeys(item.strip() for item in value if item.strip()))
    if len(names) > MAX_ENABLED_TOOLS:
        problems.add("enabled_tools", f"At most {MAX_ENABLED_TOOLS} tools.")
    known = {tool.get("name") for tool in listed or []}
    for name in names:
        if not TOOL_NAME_RE.match(name):
            problems.add("enabled_tools", f"{name[:70]!r} is not a tool name.")
        elif listed is not None and name not in known:
            problems.add("enabled_tools", f"The server does not list a tool {name!r}.")
    return names


def integration_clean(
    *, data: Mapping[str, Any], instance: Integration | None = None
) -> dict[str, Any]:
    """The rules of an integration's input, the same for the API and the admin. On an update
    (``instance``) only the keys in ``data`` are checked and returned; ``headers`` replaces
    every header, ``auth_token`` "" removes the token. Raises ValidationFailed per field."""
    problems = _Problems()
    out: dict[str, Any] = {}
    kind = instance.kind if instance is not None else data.get("kind")
    if instance is None or "kind" in data:
        if kind not in IntegrationKind.values:
            problems.add("kind", f"Choose one of: {', '.join(IntegrationKind.values)}.")
        elif instance is not None and kind != instance.kind:
            problems.add("kind", "The kind cannot change (add another integration).")
        out["kind"] = kind
    if instance is None or "name" in data:
        out["name"] = _text(data.get("name"), "name", 100, problems, required=True)
    if instance is None or "slug" in data:
        slug = str(data.get("slug") or "").strip()
        if not slug and instance is None:
            slug = slugify(str(data.get("name") or "") or str(kind or ""))[:64].strip("-")
        if not SERVER_SLUG_RE.match(slug):
            problems.add(
                "slug", "Lower-case letters, digits, - and _ (at most 64), starting with one."
            )
        elif slug in _RESERVED_SLUGS:
            problems.add("slug", f"{slug!r} is reserved (custom tools are named custom:<name>).")
        out["slug"] = slug
    if instance is None or "url" in data:
        url = str(data.get("url") or "").strip()
        if url:
            problem = url_problem(url)
            if problem:
                problems.add("url", problem)
        elif kind in IntegrationKind.values:
            setting = PLATFORM_URL_SETTINGS.get(str(kind))
            if setting is None:
                problems.add("url", "An MCP server of your own needs its URL.")
            elif not getattr(settings, setting, ""):
                problems.add(
                    "url", f"This platform runs no {kind} MCP server ({setting}); give a URL."
                )
        out["url"] = url
    if instance is None or "transport" in data:
        transport = data.get("transport") or McpTransport.STREAMABLE_HTTP
        if transport not in McpTransport.values:
            problems.add("transport", f"Choose one of: {', '.join(McpTransport.values)}.")
        out["transport"] = transport
    if instance is None or "headers" in data:
        out["headers"] = _headers(data.get("headers"), problems)
    if instance is None or "auth_token" in data:
        out["auth_token"] = _token(data.get("auth_token"), problems)
    if instance is None or "enabled" in data:
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.add("enabled", "Give true or false.")
        out["enabled"] = bool(enabled)
    if instance is None or "enabled_tools" in data:
        listed = instance.tools if instance is not None and instance.tools_listed_at else None
        out["enabled_tools"] = _enabled_tools(data.get("enabled_tools"), listed, problems)
    if instance is None or "timeout_seconds" in data:
        out["timeout_seconds"] = _timeout(data.get("timeout_seconds"), problems)
    unknown = sorted(set(data) - _INTEGRATION_FIELDS)
    for name in unknown:
        problems.add(name, "This field cannot be set.")
    problems.raise_if_any()
    return out


_INTEGRATION_FIELDS = frozenset(
    {
        "kind",
        "name",
        "slug",
        "url",
        "transport",
        "headers",
        "auth_token",
        "enabled",
        "enabled_tools",
        "timeout_seconds",
    }
)


def _apply(integration: Integration, cleaned: Mapping[str, Any]) -> list[str]:
    """Set the cleaned values; the names of the columns that changed."""
    changed: list[str] = []
    for name in ("name", "slug", "url", "transport", "enabled", "enabled_tools", "timeout_seconds"):
        if name in cleaned and getattr(integration, name) != cleaned[name]:
            setattr(integration, name, cleaned[name])
            changed.append(name)
    if "headers" in cleaned:
        headers = cleaned["headers"]
        integration.headers = secrets.Secret.from_plaintext(json.dumps(headers)) if headers else ""
        integration.header_names = sorted(headers)
        changed.extend(["headers", "header_names"])
    if "auth_token" in cleaned:
        token = cleaned["auth_token"]
        integration.auth_token = secrets.Secret.from_plaintext(token) if token else ""
        integration.auth_token_last_four = secrets.last_four(token) if token else ""
        changed.extend(["auth_token", "auth_token_last_four"])
    return changed


def _audit_fields(changed: list[str]) -> list[str]:
    # Which fields changed, never their values for the secret ones.
    return [name for name in changed if name not in ("header_names", "auth_token_last_four")]


@transaction.atomic
def integration_create(
    *,
    data: Mapping[str, Any],
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> Integration:
    """A new integration (its tools are listed on demand: integration_tools_refresh)."""
    cleaned = integration_clean(data=data)
    integration = Integration(kind=cleaned["kind"], created_by=actor)
    _apply(integration, cleaned)
    try:
        with transaction.atomic():
            integration.save()
    except IntegrityError:
        raise IntegrationSlugTaken(details={"slug": cleaned["slug"]}) from None
    _audit(
        "integration.created",
        "integration",
        integration,
        actor=actor,
        api_key=api_key,
        kind=integration.kind,
        slug=integration.slug,
        header_names=integration.header_names,
    )
    return integration


@transaction.atomic
def integration_update(
    *,
    integration: Integration,
    data: Mapping[str, Any],
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> Integration:
    cleaned = integration_clean(data=data, instance=integration)
    changed = _apply(integration, cleaned)
    if not changed:
        return integration
    if {"url", "transport", "headers", "auth_token"} & set(changed):
        # Another server, or other credentials: its old listing says nothing about this one.
        integration.last_error = ""
        changed.append("last_error")
    try:
        with transaction.atomic():
            integration.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:
        raise IntegrationSlugTaken(details={"slug": integration.slug}) from None
    _audit(
        "integration.updated",
        "integration",
        integration,
        actor=actor,
        api_key=api_key,
        slug=integration.slug,
        changed=_audit_fields(changed),
    )
    return integration


@transaction.atomic
def integration_delete(
    *, integration: Integration, actor: User | None = None, api_key: ApiKey | None = None
) -> None:
    """Remove it. Its executions stay (without the link); agents that name its tools must be
    changed before they save again (their tools no longer resolve)."""
    _audit(
        "integration.deleted",
        "integration",
        integration,
        actor=actor,
        api_key=api_key,
        slug=integration.slug,
    )
    integration.delete()


def integration_tools_refresh(
    *, integration: Integration, actor: User | None = None, api_key: ApiKey | None = None
) -> Integration:
    """List the server's tools now (outside any transaction) and cache them on the
    integration; a failure is kept in ``last_error`` and raised."""
    config, _secrets = integration_server_config(integration)
    try:
        tools = async_to_sync(mcp_tools_list)(config)
    except ToolError as exc:
        integration.last_error = exc.message[:300]
        integration.save(update_fields=["last_error", "updated_at"])
        raise
    integration.tools = [tool.as_dict() for tool in tools]
    integration.tools_listed_at = timezone.now()
    integration.last_error = ""
    integration.save(update_fields=["tools", "tools_listed_at", "last_error", "updated_at"])
    logger.info("integration_tools_listed", slug=integration.slug, tools=len(tools))
    return integration


# --- custom tools --------------------------------------------------------------------------------

_CUSTOM_FIELDS = frozenset(
    {"name", "description", "parameters", "url", "timeout_seconds", "enabled"}
)


def custom_tool_clean(
    *, data: Mapping[str, Any], instance: CustomTool | None = None
) -> dict[str, Any]:
    """The rules of a custom tool's input (API and admin); on an update only the keys given."""
    problems = _Problems()
    out: dict[str, Any] = {}
    if instance is None or "name" in data:
        name = str(data.get("name") or "").strip()
        if not TOOL_NAME_RE.match(name):
            problems.add("name", "Letters, digits, - and _ (at most 64), not starting with -.")
        out["name"] = name
    if instance is None or "description" in data:
        out["description"] = _text(
            data.get("description"), "description", 1000, problems, required=False
        )
    if instance is None or "parameters" in data:
        parameters = data.get("parameters")
        if parameters in (None, ""):
            parameters = {"type": "object", "properties": {}}
        problem = parameters_schema_problem(parameters)
        if problem:
            problems.add("parameters", problem)
        out["parameters"] = parameters
    if instance is None or "url" in data:
        url = str(data.get("url") or "").strip()
        problem = url_problem(url) if url else "This field is required."
        if problem:
            problems.add("url", problem)
        out["url"] = url
    if instance is None or "timeout_seconds" in data:
        out["timeout_seconds"] = _timeout(data.get("timeout_seconds"), problems)
    if instance is None or "enabled" in data:
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.add("enabled", "Give true or false.")
        out["enabled"] = bool(enabled)
    for name in sorted(set(data) - _CUSTOM_FIELDS - {"rotate_signing_secret"}):
        problems.add(name, "This field cannot be set.")
    problems.raise_if_any()
    return out


def _secret_new(tool: CustomTool) -> str:
    plaintext = signing_secret_generate()
    tool.signing_secret = secrets.Secret.from_plaintext(plaintext)
    tool.signing_secret_last_four = secrets.last_four(plaintext)
    return plaintext


@transaction.atomic
def custom_tool_create(
    *, data: Mapping[str, Any], actor: User | None = None, api_key: ApiKey | None = None
) -> tuple[CustomTool, str]:
    """A new custom tool and its signing secret (in clear, this once)."""
    cleaned = custom_tool_clean(data=data)
    tool = CustomTool(created_by=actor, **cleaned)
    plaintext = _secret_new(tool)
    try:
        with transaction.atomic():
            tool.save()
    except IntegrityError:
        raise CustomToolNameTaken(details={"name": cleaned["name"]}) from None
    _audit("custom_tool.created", "custom_tool", tool, actor=actor, api_key=api_key, name=tool.name)
    return tool, plaintext


@transaction.atomic
def custom_tool_update(
    *,
    custom_tool: CustomTool,
    data: Mapping[str, Any],
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> tuple[CustomTool, str | None]:
    """Change it; ``rotate_signing_secret: true`` makes a new secret, returned in clear."""
    cleaned = custom_tool_clean(data=data, instance=custom_tool)
    rotate = data.get("rotate_signing_secret")
    if rotate not in (None, True, False):
        raise ValidationFailed.for_fields({"rotate_signing_secret": ["Give true or false."]})
    changed = [name for name, value in cleaned.items() if getattr(custom_tool, name) != value]
    for name in changed:
        setattr(custom_tool, name, cleaned[name])
    plaintext = None
    if rotate:
        plaintext = _secret_new(custom_tool)
        changed.extend(["signing_secret", "signing_secret_last_four"])
    if not changed:
        return custom_tool, None
    try:
        with transaction.atomic():
            custom_tool.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:
        raise CustomToolNameTaken(details={"name": custom_tool.name}) from None
    _audit(
        "custom_tool.rotated" if rotate else "custom_tool.updated",
        "custom_tool",
        custom_tool,
        actor=actor,
        api_key=api_key,
        name=custom_tool.name,
        changed=[name for name in changed if name != "signing_secret_last_four"],
    )
    return custom_tool, plaintext


@transaction.atomic
def custom_tool_delete(
    *, custom_tool: CustomTool, actor: User | None = None, api_key: ApiKey | None = None
) -> None:
    _audit(
        "custom_tool.deleted",
        "custom_tool",
        custom_tool,
        actor=actor,
        api_key=api_key,
        name=custom_tool.name,
    )
    custom_tool.delete()
