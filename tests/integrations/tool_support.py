"""Fixtures of the tools tests: the loopback MCP fakes (Telegram over streamable HTTP and over
SSE, Shopify), the custom-tool endpoint, the settings that let organizations' URLs reach
loopback, and integrations made through the services."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

from tests.fakes.mcp_servers import McpFake, fake_shopify, fake_telegram
from tests.fakes.tool_endpoint import ToolEndpoint

BOT_TOKEN = "bot-7cd1f0e2a9b84d1c9e6f0a1b2c3d4e5f"
SHOP_KEY = "shpat-90ab4c4be2e14f59a3f87c0d6d5e1a27"


@pytest.fixture(scope="session")
def telegram_mcp():
    fake = McpFake(fake_telegram, transport="streamable_http").start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def telegram_sse():
    fake = McpFake(fake_telegram, transport="sse").start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def shopify_mcp():
    fake = McpFake(fake_shopify, transport="streamable_http").start()
    yield fake
    fake.stop()


@pytest.fixture
def tool_endpoint():
    endpoint = ToolEndpoint()
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def loopback_allowed(settings):
    """Organizations' URLs may reach loopback over http:// (the fakes), as a deployment
    that allows its own network would."""
    settings.INTEGRATION_URLS_ALLOW_PRIVATE = True
    settings.INTEGRATION_URLS_ALLOW_HTTP = True
    return settings


def make_integration(
    org,
    fake: McpFake,
    *,
    enable: tuple[str, ...] | str = "all",
    list_tools: bool = True,
    **data: Any,
):
    """An integration of ``org`` on ``fake`` (through the services), its tools listed and
    ``enable`` enabled ("all", or the names)."""
    from integrations import tool_services

    with tenant_context(org):
        integration = tool_services.integration_create(
            data={
                "kind": "custom",
                "name": data.pop("name", "Telegram"),
                "url": fake.url,
                "transport": fake.transport,
                **data,
            }
        )
        if list_tools:
            integration = tool_services.integration_tools_refresh(integration=integration)
            names = [t["name"] for t in integration.tools] if enable == "all" else list(enable)
            integration = tool_services.integration_update(
                integration=integration, data={"enabled_tools": names}
            )
        return integration


def make_custom_tool(org, endpoint: ToolEndpoint, path: str = "/book", **data: Any):
    """A custom tool of ``org`` POSTing to ``endpoint`` (which learns its secret)."""
    from integrations import tool_services

    with tenant_context(org):
        tool, secret = tool_services.custom_tool_create(
            data={
                "name": data.pop("name", "book_appointment"),
                "description": "Book a slot.",
                "parameters": data.pop(
                    "parameters",
                    {
                        "type": "object",
                        "properties": {"day": {"type": "string"}},
                        "required": ["day"],
                    },
                ),
                "url": endpoint.url(path),
                **data,
            }
        )
    endpoint.secret = secret
    return tool, secret
