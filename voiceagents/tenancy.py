"""The active tenant of the database connection, and running ORM code in an organization's
schema from async code (Channels consumers).

django-tenants' connection attributes (``schema_name``, ``tenant``, ``set_tenant``) are not in
Django's stubs: read and set them through the typed helpers here, not on ``connection``.

WebSockets skip Django's middleware, and every consumer of a process shares one database
thread (``database_sync_to_async`` is thread-sensitive), so the schema must be selected inside
the sync function that runs there, every time. This is the one place that does it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from channels.db import database_sync_to_async
from django.db import connection
from django_tenants.models import TenantMixin
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from organizations.models import Organization

P = ParamSpec("P")
R = TypeVar("R")


def _run_in_schema(
    schema_name: str, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> R:
    with schema_context(schema_name):
        return fn(*args, **kwargs)


_run = database_sync_to_async(_run_in_schema)


async def in_tenant(schema_name: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``await in_tenant("org_acme", services.call_finalize, call_id=1, ...)``"""
    return cast(R, await _run(schema_name, fn, args, kwargs))


class _TenantConnection(Protocol):
    """What django-tenants' database wrapper adds to ``django.db.connection``."""

    schema_name: str
    # The tenant row (tenant middleware, set_tenant, tenant_context) or, after set_schema and
    # schema_context, a FakeTenant that holds only the schema name.
    tenant: object

    def set_tenant(self, tenant: TenantMixin, include_public: bool = True) -> None: ...


def _tenant_connection() -> _TenantConnection:
    # The ENGINE is django_tenants.postgresql_backend, whose wrapper has these attributes;
    # django-stubs only knows Django's base wrapper.
    return cast(_TenantConnection, connection)


def current_schema_name() -> str:
    """The schema the default connection is using (``connection.schema_name``)."""
    return _tenant_connection().schema_name


def current_tenant() -> Organization:
    """The organization the default connection is set to (``connection.tenant``): on an
    organization's domain, after ``activate_tenant`` and in ``tenant_context``. Under
    ``schema_context`` only the schema name is known; read ``current_schema_name()`` there."""
    tenant = _tenant_connection().tenant
    if not isinstance(tenant, Organization):
        raise RuntimeError(f"No organization is active (schema {current_schema_name()!r}).")
    return tenant


def activate_tenant(organization: Organization) -> None:
    """Point the default connection at the organization's schema (``connection.set_tenant``)."""
    _tenant_connection().set_tenant(organization)


def for_each_tenant(fn: Callable[[Organization], R]) -> list[R]:
    """``fn(organization)`` run in every organization's schema in turn, the previous schema
    back afterwards: the one way platform-wide jobs (the stale-calls sweep) visit tenants.
    An exception in ``fn`` stops the round; catch it inside ``fn`` to go on with the rest."""
    results = []
    organizations = Organization.objects.exclude(schema_name=get_public_schema_name())
    for organization in organizations.order_by("pk"):
        with tenant_context(organization):
            results.append(fn(organization))
    return results
