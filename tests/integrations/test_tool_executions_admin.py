"""The organization's admin: add an integration through the services, "Test connection" lists
its tools, "Run a tool" runs one (an execution from the admin), executions are read only,
and no page shows a token."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from integrations.models import Integration, ToolExecution
from tests.integrations.tool_support import BOT_TOKEN, make_integration

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

BASE = "/admin/integrations/integration/"


@pytest.fixture
def admin_client(org_a, make_member):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "admin"))
    return client


def test_an_integration_is_added_tested_and_run_from_the_admin(org_a, admin_client, telegram_mcp):
    added = admin_client.post(
        f"{BASE}add/",
        {
            "kind": "custom",
            "name": "Telegram",
            "slug": "telegram",
            "url": telegram_mcp.url,
            "transport": "streamable_http",
            "new_auth_token": BOT_TOKEN,
            "enabled": "on",
            "timeout_seconds": "5",
            "enabled_tools_text": "",
        },
    )
    with tenant_context(org_a):
        integration = Integration.objects.get()
    tested = admin_client.post(f"{BASE}{integration.pk}/test-connection/", follow=True)
    with tenant_context(org_a):
        integration.refresh_from_db()
        integration.enabled_tools = ["get_chat"]
        integration.save(update_fields=["enabled_tools"])
    form = admin_client.get(f"{BASE}{integration.pk}/run-tool/")
    ran = admin_client.post(
        f"{BASE}{integration.pk}/run-tool/", {"tool": "get_chat", "arguments": '{"chat_id": "9"}'}
    )
    change = admin_client.get(f"{BASE}{integration.pk}/change/")
    executions = admin_client.get("/admin/integrations/toolexecution/")

    assert added.status_code == 302, added.content.decode()[:2000]
    assert "lists: send_message, get_chat, ban_user, wait_for_reply" in tested.content.decode()
    assert form.status_code == 200 and "get_chat" in form.content.decode()
    assert ran.status_code == 200 and "Chat 9" in ran.content.decode()
    with tenant_context(org_a):
        execution = ToolExecution.objects.get()
    assert execution.source == "admin" and execution.ok
    for page in (tested, form, ran, change, executions):
        assert BOT_TOKEN not in page.content.decode()
    assert f"••••{BOT_TOKEN[-4:]}" in change.content.decode()
    assert executions.status_code == 200


def test_a_viewer_cannot_run_a_tool_from_the_admin(org_a, make_member, telegram_mcp):
    integration = make_integration(org_a, telegram_mcp)
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "viewer"))

    client.post(f"{BASE}{integration.pk}/run-tool/", {"tool": "get_chat", "arguments": "{}"})

    with tenant_context(org_a):
        assert not ToolExecution.objects.exists()
