"""Agent config resolution, cold (cache invalidated: database + Redis) versus warm (Redis only).

Run with `make bench` or `.venv/bin/python bench/bench_agent_config.py [iterations]`. Uses the
development database and Redis; creates the `bench` organization and its agent once.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from agents.config import config_cache_invalidate  # noqa: E402
from agents.models import Agent  # noqa: E402
from agents.selectors import agent_config_resolve  # noqa: E402
from agents.services import agent_create  # noqa: E402
from integrations.models import Integration  # noqa: E402
from knowledge.models import KnowledgeBase  # noqa: E402
from organizations.models import Organization  # noqa: E402
from organizations.services import organization_create  # noqa: E402

ITERATIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
AGENT_NAME = "Bench agent"


def bench_organization() -> Organization:
    org = Organization.objects.filter(slug="bench").first()
    return org or organization_create(name="Bench", slug="bench", industry="benchmarks")


def bench_agent() -> Agent:
    agent = Agent.objects.alive().filter(name=AGENT_NAME).first()
    if agent is not None:
        return agent
    kb = KnowledgeBase.objects.create(name="Bench FAQ")
    # An agent's integration tool must resolve when it is saved: the CRM integration, its
    # tool listed and enabled (its server is never called here).
    Integration.objects.get_or_create(
        slug="crm",
        defaults={
            "kind": "custom",
            "name": "Bench CRM",
            "url": "https://mcp.example.com/mcp",
            "tools": [{"name": "lookup_customer", "description": "", "input_schema": {}}],
            "tools_listed_at": timezone.now(),
            "enabled_tools": ["lookup_customer"],
        },
    )
    return agent_create(
        name=AGENT_NAME,
        ai_provider="openai",
        system_prompt="You are the front desk of {{company}}. " * 40,
        first_message="Hello {{customer_name}}, this is {{company}}.",
        end_call_phrases=["goodbye", "bye"],
        tools=["end_call", "knowledge_search", "integration:crm.lookup_customer"],
        knowledge_base_ids=[kb.pk],
    )


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94]


def main() -> None:
    org = bench_organization()
    with tenant_context(org):
        agent = bench_agent()

        cold: list[float] = []
        for _ in range(ITERATIONS):
            config_cache_invalidate(agent_id=agent.pk)  # autocommit: runs at once
            start = time.perf_counter()
            agent_config_resolve(agent_id=agent.pk)
            cold.append((time.perf_counter() - start) * 1e6)

        agent_config_resolve(agent_id=agent.pk)
        warm: list[float] = []
        with CaptureQueriesContext(connection) as queries:
            for _ in range(ITERATIONS):
                start = time.perf_counter()
                agent_config_resolve(agent_id=agent.pk)
                warm.append((time.perf_counter() - start) * 1e6)

    cold_p50, cold_p95 = percentiles(cold)
    warm_p50, warm_p95 = percentiles(warm)
    print(f"agent config resolution, {ITERATIONS} iterations each")
    print(f"  cold (DB + Redis): p50 {cold_p50:8.0f} us   p95 {cold_p95:8.0f} us")
    print(f"  warm (Redis):      p50 {warm_p50:8.0f} us   p95 {warm_p95:8.0f} us")
    print(f"  warm database queries: {len(queries)} over {ITERATIONS} resolutions")


if __name__ == "__main__":
    main()
