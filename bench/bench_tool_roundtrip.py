"""The round trip a tool adds to a call: the model asks for an MCP tool, the bridge runs it
on the call's warm connection, the server answers, and the output the model is sent is ready.
Measured through the bridge's own path (``calls.bridge.tool_calls.tool_run`` with the Tool
the calls app builds for ``integration:<server>.<tool>``: arguments checked against the input
schema, the SDK's call, the result converted, the execution row queued), minus the server's
own time for each call (from the request's arrival to its answer, measured inside the server).

The fake Telegram MCP server (the SDK's server side, streamable HTTP, tests/fakes/mcp_servers)
runs in a process of its own, so it does not share the interpreter with what is measured.

Run with `make bench` or `.venv/bin/python bench/bench_tool_roundtrip.py [iterations]`. Uses
the development database; creates the `bench` organization and its integration once.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The fake listens on loopback: a deployment that reaches its own network allows it so.
os.environ["INTEGRATION_URLS_ALLOW_PRIVATE"] = "true"
os.environ["INTEGRATION_URLS_ALLOW_HTTP"] = "true"

ITERATIONS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 2000
WARMUP = 50


def serve() -> None:
    """The child process: the fake Telegram MCP server until stdin closes."""
    from tests.fakes.mcp_servers import McpFake, fake_telegram

    fake = McpFake(fake_telegram, transport="streamable_http").start()
    print(fake.url, flush=True)
    sys.stdin.read()
    fake.stop()


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


def main() -> None:
    import django

    django.setup()
    import structlog
    from django_tenants.utils import tenant_context

    from agents.realtime.base import ToolCall
    from agents.tools import ToolContext, tools_for
    from calls.bridge.integration_tools import TOOL_SESSIONS_KEY
    from calls.bridge.tool_calls import tool_run
    from integrations import tool_services
    from integrations.models import Integration
    from integrations.tool_execution import ToolSessions
    from organizations.models import Organization
    from organizations.services import organization_create

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        stats_url = url.rsplit("/", 1)[0] + "/__stats"

        org = Organization.objects.filter(slug="bench").first() or organization_create(
            name="Bench", slug="bench", industry="benchmarks"
        )
        with tenant_context(org):
            integration = Integration.objects.filter(slug="bench-telegram").first()
            data = {"url": url, "transport": "streamable_http", "timeout_seconds": 10}
            if integration is None:
                integration = tool_services.integration_create(
                    data={
                        "kind": "telegram",
                        "name": "Bench Telegram",
                        "slug": "bench-telegram",
                        **data,
                    }
                )
            else:
                integration = tool_services.integration_update(integration=integration, data=data)
            integration = tool_services.integration_tools_refresh(integration=integration)
            tool_services.integration_update(
                integration=integration, data={"enabled_tools": ["send_message"]}
            )
            tools = tools_for(
                schema_name=org.schema_name, names=["integration:bench-telegram.send_message"]
            )
        [tool] = tools.values()
        log = structlog.get_logger("bench")

        async def run() -> tuple[list[float], int]:
            sessions = ToolSessions()

            class _NoControl:
                def request_hangup(self, *, reason: str) -> None: ...

                async def transfer(self, *, to_number: str) -> None: ...

            def context() -> ToolContext:
                return ToolContext(
                    schema_name=org.schema_name,
                    call_id=1,
                    agent_id=1,
                    knowledge_base_ids=(),
                    transfer_number="",
                    control=_NoControl(),
                    extra={TOOL_SESSIONS_KEY: sessions},
                )

            totals: list[float] = []
            arguments = {"chat_id": "123456", "text": "Your order has shipped."}
            for n in range(WARMUP + ITERATIONS):
                call = ToolCall(call_id=f"c{n}", name=tool.spec.name, arguments=arguments)
                started = time.perf_counter()
                outcome = await tool_run(tool, call, context=context, log=log)
                output = outcome.output()  # what the model is sent
                elapsed = (time.perf_counter() - started) * 1000
                assert not outcome.error and '"ok":true' in output, output
                if n >= WARMUP:
                    totals.append(elapsed)
                # The execution rows are written in the background of a call: let them land
                # between calls of a tool, as they do between a caller's questions.
                await asyncio.sleep(0)
            connections = sessions.open_connections
            await sessions.close()
            return totals, connections

        totals, connections = asyncio.run(run())
        with urllib.request.urlopen(stats_url) as answer:  # noqa: S310 (loopback)
            server_ms = json.load(answer)["tools_call_ms"][-ITERATIONS:]
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)

    added = [total - own for total, own in zip(totals, server_ms, strict=True)]
    total_p50, total_p99 = percentiles(totals)
    server_p50, server_p99 = percentiles(server_ms)
    added_p50, added_p99 = percentiles(added)
    print(f"tool round trip, {ITERATIONS} calls on one warm MCP connection ({connections} open)")
    print(f"  model asks -> output ready   p50 {total_p50:6.2f} ms   p99 {total_p99:6.2f} ms")
    print(f"  the server's own time        p50 {server_p50:6.2f} ms   p99 {server_p99:6.2f} ms")
    print(f"  added by the product         p50 {added_p50:6.2f} ms   p99 {added_p99:6.2f} ms")
    print(f"  target: added p99 < 10 ms on loopback -> {'met' if added_p99 < 10 else 'MISSED'}")


if __name__ == "__main__":
    if "--serve" in sys.argv:
        serve()
    else:
        main()
