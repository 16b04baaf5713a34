"""A call's page in the admin: while the call is live, its transcript (followed by
static/calls/live_monitor.js over calls.consumers_live) with End call and Transfer for members,
through the same services as the API; once it has ended, the conversation with its
timestamps, the tools the agent used and the analysis."""

import pytest
from django.test import Client

from calls.models import Call, ToolInvocation, TranscriptTurn
from tests.calls.telephony_support import CALLER, HUMAN, OUR_NUMBER
from tests.fakes.twilio_rest import FakeCall

pytestmark = pytest.mark.django_db

CALL_SID = "CA" + "5" * 32


def _client(org, make_member, role):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org, role))
    return client


def _call(agent, **fields) -> Call:
    call = Call.objects.create(
        direction="inbound",
        from_number=CALLER,
        to_number=OUR_NUMBER,
        provider="twilio",
        agent=agent,
        **{"status": "in_progress", **fields},
    )
    TranscriptTurn.objects.create(
        call=call, speaker="agent", text="Hello, how can I help?", start_ms=0, end_ms=1500
    )
    TranscriptTurn.objects.create(
        call=call, speaker="caller", text="Where is my order?", start_ms=65_000, end_ms=67_000
    )
    return call


def _page(client, call) -> str:
    response = client.get(f"/admin/calls/call/{call.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_live_call_page_follows_the_call_and_offers_its_actions_to_a_member(
    org_a, alpha, make_agent, make_member
):
    with alpha():
        call = _call(make_agent(name="Front desk", transfer_number=HUMAN))
    html = _page(_client(org_a, make_member, "member"), call)

    assert "data-live-call" in html
    assert f'data-ws-path="/ws/calls/{call.pk}/live/"' in html
    assert "calls/live_monitor.js" in html
    # The turns so far, in order, with their offsets in the call.
    assert html.index("Hello, how can I help?") < html.index("Where is my order?")
    assert "Caller · 01:05" in html
    assert f'action="/admin/calls/call/{call.pk}/end/"' in html
    assert f'action="/admin/calls/call/{call.pk}/transfer/"' in html
    assert f'value="{HUMAN}"' in html  # the agent's transfer number, proposed


def test_a_viewer_sees_the_live_call_without_a_button(org_a, alpha, make_agent, make_member):
    with alpha():
        call = _call(make_agent(name="Front desk"))
    html = _page(_client(org_a, make_member, "viewer"), call)

    assert "data-live-call" in html
    assert "End call" not in html and "/end/" not in html and "/transfer/" not in html


def test_an_ended_call_page_shows_the_conversation_the_tools_and_the_analysis(
    org_a, alpha, make_agent, make_member
):
    with alpha():
        call = _call(
            make_agent(name="Front desk"),
            status="completed",
            end_reason="caller_hangup",
            duration_seconds=74,
            analysis={
                "summary": "Asked where the order is.",
                "sentiment": "neutral",
                "fields": {"order_found": True},
            },
            analysis_status="completed",
        )
        ToolInvocation.objects.create(
            call=call,
            name="lookup_order",
            arguments={"order": "A-17"},
            result={"status": "shipped"},
            duration_ms=42,
        )
    html = _page(_client(org_a, make_member, "viewer"), call)

    assert "data-live-call" not in html
    assert 'class="live-turn live-turn--caller"' in html
    assert 'class="live-turn live-turn--agent"' in html
    assert "Caller · 01:05" in html
    assert "lookup_order" in html and "shipped" in html and "42 ms" in html
    assert "Asked where the order is." in html
    assert "Order found" in html
    assert "01:14" in html  # the duration


def test_the_call_page_shows_its_timeline_in_order(org_a, alpha, make_agent, make_member):
    from calls.models import CallEvent

    with alpha():
        call = _call(make_agent(name="Front desk"))
        CallEvent.objects.create(
            call=call, kind="webhook", name="twilio.answer", payload={"CallSid": "CA1"}
        )
        CallEvent.objects.create(call=call, kind="info", name="media_stream_started")
    html = _page(_client(org_a, make_member, "viewer"), call)

    assert html.index("twilio.answer") < html.index("media_stream_started")
    assert "CallSid: CA1" in html
    assert "Carrier webhook" in html


def test_a_member_ends_a_live_call_from_its_page(org_a, alpha, make_agent, make_member):
    with alpha():
        call = _call(make_agent(name="Front desk"))
    client = _client(org_a, make_member, "member")

    response = client.post(f"/admin/calls/call/{call.pk}/end/", follow=True)

    assert response.redirect_chain[-1][0] == f"/admin/calls/call/{call.pk}/change/"
    assert "The call was ended." in response.content.decode()
    with alpha():
        ended = Call.objects.get(pk=call.pk)
    assert (ended.status, ended.end_reason) == ("completed", "agent_hangup")
    # Again: the service's answer, shown on the page.
    again = client.post(f"/admin/calls/call/{call.pk}/end/", follow=True)
    assert "already ended" in again.content.decode().lower()


def test_a_member_transfers_a_live_call_from_its_page(
    org_a, alpha, make_agent, make_member, twilio
):
    twilio.calls[CALL_SID] = FakeCall(
        sid=CALL_SID, to=OUR_NUMBER, from_=CALLER, status="in-progress", params={}
    )
    with alpha():
        call = _call(make_agent(name="Front desk"), provider_call_id=CALL_SID)
    client = _client(org_a, make_member, "member")

    refused = client.post(
        f"/admin/calls/call/{call.pk}/transfer/", {"to_number": "not a number"}, follow=True
    )
    assert "to_number" in refused.content.decode() or "number" in refused.content.decode()
    assert not twilio.calls[CALL_SID].updates

    response = client.post(
        f"/admin/calls/call/{call.pk}/transfer/", {"to_number": HUMAN}, follow=True
    )
    assert f"The call is being transferred to {HUMAN}." in response.content.decode()
    assert twilio.calls[CALL_SID].updates  # the carrier was told
    with alpha():
        assert Call.objects.get(pk=call.pk).end_reason == "transferred"


def test_the_actions_are_a_members_and_only_for_the_organizations_calls(
    org_a, org_b, alpha, make_agent, make_member
):
    with alpha():
        call = _call(make_agent(name="Front desk"))
    viewer = _client(org_a, make_member, "viewer")
    assert viewer.post(f"/admin/calls/call/{call.pk}/end/").status_code == 403
    assert (
        viewer.post(f"/admin/calls/call/{call.pk}/transfer/", {"to_number": HUMAN}).status_code
        == 403
    )

    member = _client(org_a, make_member, "member")
    assert member.get(f"/admin/calls/call/{call.pk}/end/").status_code == 405
    assert member.post(f"/admin/calls/call/{call.pk + 1000}/end/").status_code == 404
    # A member of beta, on alpha's domain, is not let in at all.
    outsider = _client(org_b, make_member, "owner")
    response = outsider.post(f"/admin/calls/call/{call.pk}/end/")
    assert response.status_code in (302, 403)
    with alpha():
        assert Call.objects.get(pk=call.pk).status == "in_progress"
