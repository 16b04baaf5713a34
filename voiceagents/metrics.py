"""Prometheus metrics for the whole process. Later features register theirs here so one
`/metrics` page shows everything."""

from __future__ import annotations

import redis
from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "voiceagents_http_requests_total",
    "HTTP requests by route pattern, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "voiceagents_http_request_duration_seconds",
    "HTTP request latency by route pattern and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
ACTIVE_CALLS = Gauge(
    "voiceagents_active_calls",
    "Calls whose media bridge is open in this process.",
    registry=REGISTRY,
)
BRIDGE_FRAME_LATENCY = Histogram(
    "voiceagents_bridge_frame_seconds",
    "Time our bridge spends sending one audio frame on (to_model, to_carrier); one frame in "
    "64 is timed.",
    ["direction"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "voiceagents_queue_depth",
    "Messages waiting in a Celery queue.",
    ["queue"],
    registry=REGISTRY,
)


def _refresh_queue_depths() -> None:
    """Read the Celery queue lengths at scrape time (one LLEN per queue, short timeouts; a
    broker that does not answer leaves the last values)."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return
    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=0.3, socket_timeout=0.3
        )
        try:
            queue = settings.CELERY_TASK_DEFAULT_QUEUE
            QUEUE_DEPTH.labels(queue).set(client.llen(queue))
        finally:
            client.close()
    except redis.RedisError:
        pass


def render() -> tuple[bytes, str]:
    _refresh_queue_depths()
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
