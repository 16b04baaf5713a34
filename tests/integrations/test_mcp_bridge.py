"""Tools in the middle of a simulated call, end to end through daphne: the (fake) OpenAI
Realtime model calls an MCP tool, a custom HTTP tool and send_sms; the bridge runs them
through the same client as the API, the results go back to the model, one MCP connection
serves the whole call, and every run is a ToolExecution row with the call's id."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django_tenants.utils import tenant_context

from calls.models import Message, PhoneNumber, ToolInvocation
from integrations.models import ToolExecution
from tests.calls.bridge_support import make_call, media_url, wait_for_final, wait_until
from tests.fakes.carrier_media import TwilioMediaClient, caller_turn
from tests.integrations.conftest import TEST_KEY
from tests.integrations.tool_support import BOT_TOKEN, make_custom_tool, make_integration
from tests.servers import DaphneServer

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.usefixtures("committed_db", "loopback_allowed"),
]


@pytest.fixture(scope="module")
def tools_daphne(_server_env):
    """daphne that may reach the loopback fakes, with the key these tests encrypt with."""
    server = DaphneServer(
        env={
            **_server_env,
            "INTEGRATION_URLS_ALLOW_PRIVATE": "true",
            "INTEGRATION_URLS_ALLOW_HTTP": "true",
            "SECRETS_ENCRYPTION_KEYS": TEST_KEY,
        },
        name="tools",
    ).start()
    yield server
    server.stop()


def _outputs(connection) -> list[str]:
    return [
        e["item"]["output"]
        for e in connection.of_type("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]


def _prepare(org, telegram, endpoint):
    make_integration(org, telegram, slug="telegram", auth_token=BOT_TOKEN)
    make_custom_tool(org, endpoint)
    with tenant_context(org):
        PhoneNumber.objects.create(number="+14155550100", provider="twilio", sms_enabled=True)
    return make_call(
        org,
        tools=[
            "integration:telegram.send_message",
            "integration:telegram.get_chat",
            "custom:book_appointment",
            "send_sms",
        ],
    )


def _rows(org, call):
    with tenant_context(org):
        executions = list(ToolExecution.objects.filter(call_id=call.pk).order_by("id"))
        invocations = list(ToolInvocation.objects.filter(call_id=call.pk).order_by("id"))
        messages = list(Message.objects.filter(call_id=call.pk))
    return executions, invocations, messages


async def test_mcp_custom_and_sms_tools_run_in_the_middle_of_a_call(
    tools_daphne, fake_openai, script, fake_twilio_rest, org_a, telegram_mcp, tool_endpoint
):
    script.tool_calls = {
        1: ("telegram__send_message", {"chat_id": "555", "text": "Caller wants a callback"}),
        2: ("telegram__get_chat", {"chat_id": "555"}),
        3: ("custom__book_appointment", {"day": "2026-12-02"}),
        4: ("send_sms", {"text": "Your appointment is on 2 December."}),
    }
    call = await sync_to_async(_prepare)(org_a, telegram_mcp, tool_endpoint)
    methods_before = len(telegram_mcp.methods)
    client = TwilioMediaClient(media_url(tools_daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        connection = fake_openai.current
        offered = {
            tool["name"]: tool
            for tool in connection.of_type("session.update")[0]["session"]["tools"]
        }
        for turn in (1, 2, 3, 4):
            await client.send_audio(caller_turn(speech_ms=600, silence_ms=700, seed=turn))
            await fake_openai.wait_for(lambda n=turn: len(_outputs(connection)) >= n, timeout=15)
        outputs = _outputs(connection)
        await client.hangup()
    await wait_for_final(org_a, call)

    # The model was offered the tools under provider-safe names, with the MCP input schema.
    assert set(offered) == {
        "telegram__send_message",
        "telegram__get_chat",
        "custom__book_appointment",
        "send_sms",
    }
    assert offered["telegram__send_message"]["parameters"]["required"] == ["chat_id", "text"]
    # Each result went back to the model.
    assert '"message_id"' in outputs[0] and '"chat_id":"555"' in outputs[0]
    assert '"title":"Chat 555"' in outputs[1]
    assert outputs[2] == '{"booked":true,"day":"2026-12-02"}'
    assert '"ok":true' in outputs[3]
    # The custom tool's request was signed and carried the call's id.
    [received] = tool_endpoint.received
    assert received.verified and received.body["call_id"] == call.pk
    # The SMS went to the caller through the carrier.
    assert fake_twilio_rest.messages[-1]["to"] == "+14155550111"

    executions, invocations, messages = await sync_to_async(_rows)(org_a, call)
    assert [(e.server, e.tool, e.ok, e.source) for e in executions] == [
        ("telegram", "send_message", True, "call"),
        ("telegram", "get_chat", True, "call"),
        ("custom", "book_appointment", True, "call"),
    ]
    assert [i.name for i in invocations] == [
        "telegram__send_message",
        "telegram__get_chat",
        "custom__book_appointment",
        "send_sms",
    ]
    assert [m.to_number for m in messages] == ["+14155550111"]
    # One MCP connection for the call's two Telegram tool calls: opened (one handshake) on
    # the first, reused by the second.
    methods = telegram_mcp.methods[methods_before:]
    assert methods.count("tools/call") == 2
    handshakes = [m for m in methods if m in ("server/discover", "initialize")]
    assert len(handshakes) == 1, methods


async def test_a_failing_mcp_tool_is_an_error_for_the_model_and_the_call_goes_on(
    tools_daphne, fake_openai, script, org_a, telegram_mcp
):
    script.tool_calls = {
        1: ("telegram__ban_user", {"chat_id": "1", "user_id": 2}),
        2: ("telegram__get_chat", {"chat_id": 7}),
    }

    def prepare():
        make_integration(org_a, telegram_mcp, slug="telegram")
        return make_call(
            org_a, tools=["integration:telegram.ban_user", "integration:telegram.get_chat"]
        )

    call = await sync_to_async(prepare)()
    client = TwilioMediaClient(media_url(tools_daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        connection = fake_openai.current
        for turn in (1, 2):
            await client.send_audio(caller_turn(speech_ms=600, silence_ms=700, seed=turn))
            await fake_openai.wait_for(lambda n=turn: len(_outputs(connection)) >= n, timeout=15)
        outputs = _outputs(connection)
        await wait_until(
            lambda: len(connection.sent_of_type("response.done")) >= 4, what="follow-ups"
        )
        await client.hangup()
    ended = await wait_for_final(org_a, call)

    assert "not enough rights" in outputs[0]
    assert "do not match the input schema" in outputs[1] and "chat_id" in outputs[1]
    assert ended.end_reason == "caller_hangup"
    executions, _invocations, _messages = await sync_to_async(_rows)(org_a, call)
    assert [e.error_code for e in executions] == ["tool_failed", "tool_arguments_invalid"]
