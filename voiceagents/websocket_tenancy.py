"""The organization of an operator's WebSocket, chosen by its Host header as django-tenants
chooses it for HTTP (``TenantMainMiddleware``): the console's pages and their sockets are on
the organization's own domain. The carriers' media sockets do not come through here: they
arrive on the main host and carry their organization in a signed token
(calls.bridge.middleware).

``HostTenantMiddleware`` puts the organization in ``scope["tenant"]`` (None for the main host,
an unknown host, or a socket opened from another origin: a page elsewhere must not ride on the
operator's session cookie). It is the only place an operator socket's organization is decided.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from django_tenants.utils import get_public_schema_name, remove_www, schema_context

from organizations.models import Domain, Organization

__all__ = ["HostTenantMiddleware"]

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _same_origin(scope: Scope, host: str) -> bool:
    """The socket was opened by a page of the host it connects to (browsers always send
    Origin on a WebSocket handshake)."""
    origin = _header(scope, b"origin")
    return bool(origin) and urlsplit(origin).netloc.lower() == host.lower()


def _tenant_for_host(hostname: str) -> Organization | None:
    with schema_context(get_public_schema_name()):
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    if domain is None or domain.tenant.schema_name == get_public_schema_name():
        return None
    return domain.tenant


class HostTenantMiddleware:
    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        host = _header(scope, b"host")
        tenant = None
        if host and _same_origin(scope, host):
            tenant = await database_sync_to_async(_tenant_for_host)(
                remove_www(host.split(":")[0].lower())
            )
        return await self.inner({**scope, "tenant": tenant}, receive, send)
