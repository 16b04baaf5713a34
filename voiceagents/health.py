"""Liveness and readiness checks. Each readiness check is bounded by a short timeout so a dead
dependency makes /readyz answer 503 quickly instead of hanging the probe."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def _timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = check() or {}
        result: dict[str, Any] = {"status": "ok", **extra}
    except Exception as exc:  # a probe reports any failure rather than raising it
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5
    )
    try:
        client.ping()
    finally:
        client.close()


def check_migrations() -> dict[str, Any]:
    # The public schema's plan; tenant schemas are migrated by the same command right after.
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        pending = [f"{migration.app_label}.{migration.name}" for migration, _ in plan][:10]
        raise RuntimeError(f"{len(plan)} migrations not applied: {', '.join(pending)}")
    return {}


def readiness() -> tuple[bool, dict[str, Any]]:
    checks = {
        "database": _timed(check_database),
        "redis": _timed(check_redis),
    }
    checks["migrations"] = (
        _timed(check_migrations)
        if checks["database"]["status"] == "ok"
        else {"status": "skipped", "error": "database unavailable"}
    )
    ready = all(check["status"] == "ok" for check in checks.values())
    return ready, checks
