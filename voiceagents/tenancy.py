"""Running ORM code in an organization's schema from async code (Channels consumers).

WebSockets skip Django's middleware, and every consumer of a process shares one database
thread (``database_sync_to_async`` is thread-sensitive), so the schema must be selected inside
the sync function that runs there, every time. This is the one place that does it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from channels.db import database_sync_to_async
from django.db import connection
from django_tenants.utils import schema_context

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


def current_schema_name() -> str:
    """The schema the default connection is using (``connection.schema_name``)."""
    # The ENGINE is django_tenants.postgresql_backend, whose wrapper sets schema_name;
    # django-stubs only knows Django's base wrapper.
    return cast(_TenantConnection, connection).schema_name
