"""The row of every tool run (GET /api/v1/tool-executions/), secrets never in an answer, a row
or a log line, and agents whose tools do not resolve refused when they are saved."""

from __future__ import annotations

import json
import logging

import pytest
from django_tenants.utils import tenant_context

from agents.services import agent_create, agent_update
from integrations import tool_execution, tool_services
from integrations.exceptions import ToolFailed
from integrations.models import Integration, ToolExecution
from tests.integrations.tool_support import BOT_TOKEN, SHOP_KEY, make_integration
from voiceagents.exceptions import ValidationFailed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

URL = "/api/v1/tool-executions/"


@pytest.fixture
def viewer(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "viewer"))


def test_executions_are_listed_newest_first_and_filtered(org_a, telegram_mcp, viewer):
    make_integration(org_a, telegram_mcp, slug="telegram")
    with tenant_context(org_a):
        tool_execution.tool_execute("telegram", "get_chat", {"chat_id": "1"})
        tool_execution.tool_execute("telegram", "send_message", {"chat_id": "1", "text": "hi"})
        with pytest.raises(ToolFailed):
            tool_execution.tool_execute("telegram", "ban_user", {"chat_id": "1", "user_id": 1})

    everything = viewer.get(URL)
    failed = viewer.get(f"{URL}?ok=false")
    by_tool = viewer.get(f"{URL}?tool=get_chat&server=telegram")
    paged = viewer.get(f"{URL}?page_size=1")

    assert everything.status_code == 200
    assert [r["tool"] for r in everything.json()["results"]] == [
        "ban_user",
        "send_message",
        "get_chat",
    ]
    assert [r["error_code"] for r in failed.json()["results"]] == ["tool_failed"]
    assert [r["tool"] for r in by_tool.json()["results"]] == ["get_chat"]
    assert paged.json()["count"] == 3 and len(paged.json()["results"]) == 1
    one = everything.json()["results"][1]
    assert viewer.get(f"{URL}{one['id']}/").json() == one
    assert viewer.get(f"{URL}987654321/").json()["error"]["code"] == "tool_execution_not_found"


def test_secrets_never_reach_answers_rows_or_logs(
    org_a, telegram_mcp, make_api_key, bearer, caplog
):
    admin = bearer(make_api_key(org_a, "admin"))
    caplog.set_level(logging.DEBUG)
    created = admin.post(
        "/api/v1/integrations/",
        {
            "kind": "custom",
            "name": "Telegram",
            "url": telegram_mcp.url,
            "auth_token": BOT_TOKEN,
            "headers": {"X-Shop-Key": SHOP_KEY},
        },
        format="json",
    )
    integration_id = created.json()["id"]
    listed = admin.get(f"/api/v1/integrations/{integration_id}/tools/?refresh=1")
    admin.patch(
        f"/api/v1/integrations/{integration_id}/",
        {"enabled_tools": ["send_message"]},
        format="json",
    )
    # The model (or a caller) passes the bot token and a password as arguments.
    ran = admin.post(
        f"/api/v1/integrations/{integration_id}/tools/send_message/execute/",
        {"arguments": {"chat_id": "1", "text": f"token {BOT_TOKEN}", "password": "hunter2"}},
        format="json",
    )
    detail = admin.get(f"/api/v1/integrations/{integration_id}/")
    executions = admin.get(URL)

    assert created.status_code == 201 and ran.status_code == 200, ran.content
    assert created.json()["header_names"] == ["X-Shop-Key"]
    assert created.json()["auth_token_last_four"] == BOT_TOKEN[-4:]
    answers = [created, listed, ran, detail, executions]
    for secret in (BOT_TOKEN, SHOP_KEY, "hunter2"):
        for answer in answers:
            assert secret not in answer.content.decode()
        assert secret not in caplog.text
    # Both credentials reached the server.
    assert any(
        r.get("authorization") == f"Bearer {BOT_TOKEN}" and r.get("x-shop-key") == SHOP_KEY
        for r in telegram_mcp.requests
    )
    with tenant_context(org_a):
        row = ToolExecution.objects.get()
        stored = Integration.objects.get()
        ciphertext = stored.headers.ciphertext + stored.auth_token.ciphertext
    assert row.arguments == {"chat_id": "1", "text": "token ••••", "password": "••••"}
    assert BOT_TOKEN not in ciphertext and SHOP_KEY not in ciphertext
    assert json.loads(stored.headers.reveal()) == {"X-Shop-Key": SHOP_KEY}


def test_an_agent_whose_tools_do_not_resolve_is_refused_at_save_time(org_a, telegram_mcp):
    make_integration(org_a, telegram_mcp, slug="telegram", enable=("send_message",))
    with tenant_context(org_a):
        with pytest.raises(ValidationFailed) as caught:
            agent_create(
                name="Agent",
                ai_provider="openai",
                tools=[
                    "integration:telegram.send_message",  # resolves
                    "integration:telegram.get_chat",  # listed, not enabled
                    "integration:telegram.teleport",  # not listed
                    "integration:gmail.send_email",  # no such integration
                    "custom:book_appointment",  # no such custom tool
                ],
            )
        problems = caught.value.details["fields"]["tools"]
        agent = agent_create(
            name="Agent", ai_provider="openai", tools=["integration:telegram.send_message"]
        )
        integration = Integration.objects.get()
        tool_services.integration_update(integration=integration, data={"enabled": False})
        with pytest.raises(ValidationFailed) as disabled:
            agent_update(agent=agent, data={"name": "Renamed"})

    assert problems == [
        "integration:telegram.get_chat: The tool 'get_chat' is not enabled on the integration "
        "'telegram'.",
        "integration:telegram.teleport: The integration 'telegram' does not list a tool "
        "'teleport' (list its tools again if the server has it now).",
        "integration:gmail.send_email: There is no integration 'gmail'.",
        "custom:book_appointment: There is no custom tool 'book_appointment'.",
    ]
    assert "is disabled" in disabled.value.details["fields"]["tools"][0]


def test_another_organizations_integration_does_not_resolve(org_a, org_b, telegram_mcp):
    make_integration(org_b, telegram_mcp, slug="telegram")
    with tenant_context(org_a), pytest.raises(ValidationFailed) as caught:
        agent_create(name="A", ai_provider="openai", tools=["integration:telegram.get_chat"])

    assert "There is no integration 'telegram'" in caught.value.details["fields"]["tools"][0]
