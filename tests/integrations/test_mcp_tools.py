"""MCP integrations against real MCP servers on loopback (the SDK's server side): listing
tools over streamable HTTP and SSE, running them by kind, slug or id, and every failure as
its own error code in the API's one error shape."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from integrations import tool_execution, tool_services
from integrations.exceptions import (
    IntegrationNotFound,
    ToolArgumentsInvalid,
    ToolFailed,
    ToolNotEnabled,
    ToolServerUnreachable,
    ToolTimedOut,
    ToolUnknown,
    ToolUrlRefused,
)
from integrations.models import Integration, ToolExecution
from tests.integrations.tool_support import BOT_TOKEN, make_integration
from tests.servers import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

URL = "/api/v1/integrations/"


@pytest.fixture
def admin(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


@pytest.fixture
def viewer(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "viewer"))


@pytest.mark.parametrize("fake_name", ["telegram_mcp", "telegram_sse"])
def test_tools_are_listed_over_both_transports_and_cached(request, fake_name, org_a, admin):
    fake = request.getfixturevalue(fake_name)
    created = admin.post(
        URL,
        {
            "kind": "custom",
            "name": "Telegram",
            "url": fake.url,
            "transport": fake.transport,
            "auth_token": BOT_TOKEN,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    integration_id = created.json()["id"]
    assert created.json()["slug"] == "telegram"

    listed = admin.get(f"{URL}{integration_id}/tools/?refresh=1")
    cached = admin.get(f"{URL}{integration_id}/tools/")

    assert listed.status_code == 200, listed.content
    names = [tool["name"] for tool in listed.json()["tools"]]
    assert names == ["send_message", "get_chat", "ban_user", "wait_for_reply"]
    send = listed.json()["tools"][0]
    assert send["input_schema"]["required"] == ["chat_id", "text"]
    assert listed.json()["refreshed"] is True
    assert cached.json()["refreshed"] is False and cached.json()["tools"] == listed.json()["tools"]
    # The bearer token reached the server.
    assert any(r.get("authorization") == f"Bearer {BOT_TOKEN}" for r in fake.requests)


def test_execute_tool_by_kind_slug_or_id_runs_it_and_keeps_a_row(org_a, telegram_mcp):
    integration = make_integration(org_a, telegram_mcp, kind="telegram", name="Support bot")
    with tenant_context(org_a):
        by_kind = tool_execution.tool_execute(
            "telegram", "send_message", {"chat_id": "123456", "text": "Hello!"}
        )
        by_slug = tool_execution.tool_execute("support-bot", "get_chat", {"chat_id": "7"})
        by_id = tool_execution.tool_execute(integration.pk, "get_chat", {"chat_id": "8"})
        rows = list(ToolExecution.objects.order_by("id"))

    assert by_kind.ok and by_kind.result["ok"] is True
    assert by_kind.result["chat_id"] == "123456" and by_kind.result["text"] == "Hello!"
    assert by_slug.result["title"] == "Chat 7" and by_id.result["title"] == "Chat 8"
    assert [(r.server, r.tool, r.source) for r in rows] == [
        ("support-bot", "send_message", "api"),
        ("support-bot", "get_chat", "api"),
        ("support-bot", "get_chat", "api"),
    ]
    assert rows[0].integration_id == integration.pk and rows[0].duration_ms >= 0


def test_a_member_runs_a_tool_through_the_api_and_a_viewer_may_not(
    org_a, telegram_mcp, member, viewer
):
    integration = make_integration(org_a, telegram_mcp)
    url = f"{URL}{integration.pk}/tools/send_message/execute/"
    body = {"arguments": {"chat_id": "42", "text": "Your order has shipped."}}

    refused = viewer.post(url, body, format="json")
    ran = member.post(url, body, format="json")

    assert refused.status_code == 403
    assert ran.status_code == 200, ran.content
    assert ran.json()["ok"] is True and ran.json()["result"]["chat_id"] == "42"
    assert ran.json()["source"] == "api" and ran.json()["tool"] == "send_message"


def test_bad_arguments_are_refused_before_the_server_is_asked(org_a, telegram_mcp, member):
    integration = make_integration(org_a, telegram_mcp)
    before = len(telegram_mcp.requests)

    response = member.post(
        f"{URL}{integration.pk}/tools/send_message/execute/",
        {"arguments": {"chat_id": 5}},
        format="json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "tool_arguments_invalid"
    paths = {problem["path"] for problem in error["details"]["errors"]}
    assert paths == {"chat_id", "(arguments)"}  # a number for a string; text missing
    assert "execution_id" in error["details"]
    # The connection was opened (the server's tool schema is cached here, no call made).
    assert len(telegram_mcp.requests) == before


def test_a_tool_that_reports_an_error_is_tool_failed_with_its_message(org_a, telegram_mcp, member):
    integration = make_integration(org_a, telegram_mcp)

    response = member.post(
        f"{URL}{integration.pk}/tools/ban_user/execute/",
        {"arguments": {"chat_id": "1", "user_id": 2}},
        format="json",
    )

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "tool_failed"
    assert "not enough rights" in error["message"]
    with tenant_context(org_a):
        row = ToolExecution.objects.get(pk=error["details"]["execution_id"])
    assert not row.ok and row.error_code == "tool_failed" and row.result is None


def test_a_tool_that_hangs_times_out_after_the_integration_timeout(org_a, telegram_mcp, member):
    integration = make_integration(org_a, telegram_mcp, timeout_seconds=1)

    response = member.post(
        f"{URL}{integration.pk}/tools/wait_for_reply/execute/",
        {"arguments": {"chat_id": "1"}},
        format="json",
    )

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "tool_timed_out"
    with tenant_context(org_a):
        row = ToolExecution.objects.get()
    assert row.error_code == "tool_timed_out" and 900 <= row.duration_ms < 5000


def test_unknown_and_not_enabled_tools_are_refused(org_a, shopify_mcp, member):
    integration = make_integration(org_a, shopify_mcp, name="Shop", enable=("get_order",))

    unknown = member.post(
        f"{URL}{integration.pk}/tools/launch_rocket/execute/", {"arguments": {}}, format="json"
    )
    disabled = member.post(
        f"{URL}{integration.pk}/tools/search_products/execute/",
        {"arguments": {"query": "mug"}},
        format="json",
    )
    enabled = member.post(
        f"{URL}{integration.pk}/tools/get_order/execute/",
        {"arguments": {"order_id": "1001"}},
        format="json",
    )

    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "tool_unknown"
    assert disabled.status_code == 409
    assert disabled.json()["error"]["code"] == "tool_not_enabled"
    assert enabled.status_code == 200 and enabled.json()["result"]["status"] == "shipped"


def test_an_unreachable_server_is_a_clear_error(org_a):
    with tenant_context(org_a):
        integration = tool_services.integration_create(
            data={
                "kind": "custom",
                "name": "Gone",
                "url": f"http://127.0.0.1:{free_port()}/mcp",
                "timeout_seconds": 2,
            }
        )
        with pytest.raises(ToolServerUnreachable) as caught:
            tool_services.integration_tools_refresh(integration=integration)
        integration.refresh_from_db()

    assert "could not be reached" in caught.value.message
    assert caught.value.status == 502
    assert integration.last_error == caught.value.message


def test_a_private_address_is_refused_unless_the_deployment_allows_it(
    org_a, telegram_mcp, settings
):
    integration = make_integration(org_a, telegram_mcp)
    settings.INTEGRATION_URLS_ALLOW_PRIVATE = False
    before = len(telegram_mcp.requests)

    with tenant_context(org_a), pytest.raises(ToolUrlRefused) as caught:
        tool_execution.tool_execute(integration.slug, "get_chat", {"chat_id": "1"})

    assert "private, loopback or link-local" in caught.value.message
    assert len(telegram_mcp.requests) == before  # nothing reached the server


def test_the_platform_server_of_a_kind_is_the_default_and_is_trusted(org_a, telegram_mcp, settings):
    # The platform's own server may sit on its private network: no guard applies to it.
    settings.TELE_MCP_SERVER_URL = telegram_mcp.url
    settings.INTEGRATION_URLS_ALLOW_PRIVATE = False
    with tenant_context(org_a):
        integration = tool_services.integration_create(data={"kind": "telegram", "name": "Bot"})
        integration = tool_services.integration_tools_refresh(integration=integration)
        tool_services.integration_update(
            integration=integration, data={"enabled_tools": ["get_chat"]}
        )
        execution = tool_execution.tool_execute("telegram", "get_chat", {"chat_id": "3"})

    assert integration.url == "" and execution.result["id"] == "3"


def test_a_kind_without_a_platform_server_needs_a_url(org_a, admin, settings):
    settings.SHOPIFY_MCP_SERVER_URL = ""

    response = admin.post(URL, {"kind": "shopify", "name": "Shop"}, format="json")

    assert response.status_code == 400
    assert "SHOPIFY_MCP_SERVER_URL" in response.json()["error"]["details"]["fields"]["url"][0]


def test_enabled_tools_must_be_listed_by_the_server(org_a, telegram_mcp, admin):
    integration = make_integration(org_a, telegram_mcp, enable=())

    response = admin.patch(
        f"{URL}{integration.pk}/", {"enabled_tools": ["send_message", "teleport"]}, format="json"
    )

    assert response.status_code == 400
    assert "teleport" in response.json()["error"]["details"]["fields"]["enabled_tools"][0]


def test_managing_integrations_needs_an_admin(org_a, member, viewer, telegram_mcp):
    body = {"kind": "custom", "name": "T", "url": telegram_mcp.url}
    assert member.post(URL, body, format="json").status_code == 403
    assert viewer.get(URL).status_code == 200
    integration = make_integration(org_a, telegram_mcp, list_tools=False)
    # Viewers read the cache but do not make the server be asked.
    assert viewer.get(f"{URL}{integration.pk}/tools/").status_code == 403
    assert viewer.get(f"{URL}{integration.pk}/tools/?refresh=1").status_code == 403


def test_an_integration_is_found_by_kind_only_when_there_is_one(org_a, telegram_mcp):
    make_integration(org_a, telegram_mcp, kind="telegram", name="One", list_tools=False)
    make_integration(org_a, telegram_mcp, kind="telegram", name="Two", list_tools=False)

    with tenant_context(org_a), pytest.raises(IntegrationNotFound) as caught:
        tool_execution.tool_execute("telegram", "get_chat", {"chat_id": "1"})

    assert "several of that kind" in caught.value.message


def test_service_errors_are_tool_errors_with_their_codes(org_a, telegram_mcp):
    make_integration(org_a, telegram_mcp, enable=("get_chat",), timeout_seconds=1)
    with tenant_context(org_a):
        for tool, arguments, error in [
            ("nope", {}, ToolUnknown),
            ("send_message", {"chat_id": "1", "text": "x"}, ToolNotEnabled),
            ("get_chat", {"chat": "1"}, ToolArgumentsInvalid),
        ]:
            with pytest.raises(error):
                tool_execution.tool_execute("telegram", tool, arguments)
        tool_services.integration_update(
            integration=Integration.objects.get(),
            data={"enabled_tools": ["ban_user", "wait_for_reply"]},
        )
        with pytest.raises(ToolFailed):
            tool_execution.tool_execute("telegram", "ban_user", {"chat_id": "1", "user_id": 1})
        with pytest.raises(ToolTimedOut):
            tool_execution.tool_execute("telegram", "wait_for_reply", {"chat_id": "1"})
        assert ToolExecution.objects.filter(ok=False).count() == 5


def test_tools_run_over_sse_too(org_a, telegram_sse):
    make_integration(org_a, telegram_sse, slug="old-bot", timeout_seconds=1)
    with tenant_context(org_a):
        sent = tool_execution.tool_execute(
            "old-bot", "send_message", {"chat_id": "9", "text": "hi"}
        )
        with pytest.raises(ToolTimedOut):
            tool_execution.tool_execute("old-bot", "wait_for_reply", {"chat_id": "9"})

    assert sent.result["chat_id"] == "9" and sent.result["text"] == "hi"
