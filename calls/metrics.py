"""Call counters, registered on the project's registry so /metrics shows them."""

from prometheus_client import Counter

from voiceagents.metrics import REGISTRY

CALLS_STARTED = Counter(
    "voiceagents_calls_started_total",
    "Calls created, by direction and carrier.",
    ["direction", "provider"],
    registry=REGISTRY,
)
CALLS_ENDED = Counter(
    "voiceagents_calls_ended_total",
    "Calls that reached a final status, by end reason.",
    ["direction", "end_reason"],
    registry=REGISTRY,
)
WEBHOOKS_REJECTED = Counter(
    "voiceagents_telephony_webhooks_rejected_total",
    "Carrier webhooks refused for a missing or bad signature.",
    ["provider"],
    registry=REGISTRY,
)
