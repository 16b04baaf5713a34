"""Running ORM code in an organization's schema from async code (Channels consumers).

WebSockets skip Django's middleware, and every consumer of a process shares one database
thread (``database_sync_to_async`` is thread-sensitive), so the schema must be selected inside
the sync function that runs there, every time. This is the one place that does it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from channels.db import database_sync_to_async
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
