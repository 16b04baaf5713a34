"""A live call's control and transcript groups are named by organization and call: call ids
are per organization, so organization A's call 5 and organization B's call 5 can be live at
once on the same channel layer, and a hang-up meant for one must never reach the other."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django_tenants.utils import tenant_context

from calls.control import bridge_control_on_commit, control_group, transcript_group

pytestmark = pytest.mark.django_db


async def _receive(layer, channel):
    return await asyncio.wait_for(layer.receive(channel), timeout=0.5)


def test_group_names_differ_by_organization_for_the_same_call_id():
    assert control_group(schema_name="alpha", call_id=5) != control_group(
        schema_name="beta", call_id=5
    )
    assert transcript_group(schema_name="alpha", call_id=5) != transcript_group(
        schema_name="beta", call_id=5
    )


def test_a_control_message_reaches_only_its_organizations_call(
    org_a, org_b, _channel_layer_namespace, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    listening_a = async_to_sync(layer.new_channel)()
    listening_b = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(
        control_group(schema_name=org_a.schema_name, call_id=5), listening_a
    )
    async_to_sync(layer.group_add)(
        control_group(schema_name=org_b.schema_name, call_id=5), listening_b
    )

    # Decided in beta's schema; sent after the commit, when the connection is back in public
    # (as a webhook's on-commit callbacks may find it).
    with django_capture_on_commit_callbacks(execute=True), tenant_context(org_b):
        bridge_control_on_commit(call_id=5, action="hangup", end_reason="agent_hangup")

    message = async_to_sync(_receive)(layer, listening_b)
    assert (message["type"], message["action"]) == ("call.control", "hangup")
    with pytest.raises(TimeoutError):
        async_to_sync(_receive)(layer, listening_a)
