"""Routing rules on a number: first match wins (caller prefix, country, day and time window in
the organization's time zone), then the default agent, then the number's fallback."""

import datetime as dt

import pytest

from calls.selectors import call_route, phone_number_agent_get
from organizations.models import Organization
from tests.calls.telephony_support import CALLER, OUR_NUMBER

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.fixture
def agents(in_org_a, make_agent):
    return {
        "sales": make_agent(name="Sales"),
        "uk": make_agent(name="UK desk"),
        "office": make_agent(name="Office hours"),
        "night": make_agent(name="Night line"),
        "default": make_agent(name="Front desk"),
    }


def test_the_first_matching_rule_wins_by_caller_prefix(agents, make_number):
    make_number(
        agent=agents["default"],
        rules=[
            {"name": "SF", "caller_prefix": "+1415", "agent_id": agents["sales"].pk},
            {"name": "US", "caller_prefix": "+1", "agent_id": agents["uk"].pk},
        ],
    )

    decision = call_route(from_number=CALLER, to_number=OUR_NUMBER)

    assert (decision.agent, decision.rule, decision.rule_name) == (agents["sales"], "rule", "SF")
    other = call_route(from_number="+12125550123", to_number=OUR_NUMBER)
    assert (other.agent, other.rule_name) == (agents["uk"], "US")


def test_a_rule_can_match_the_callers_country(agents, make_number):
    make_number(
        agent=agents["default"],
        rules=[
            {"caller_country": "GB", "agent_id": agents["uk"].pk},
        ],
    )

    assert call_route(from_number="+442071838750", to_number=OUR_NUMBER).agent == agents["uk"]
    us_caller = call_route(from_number=CALLER, to_number=OUR_NUMBER)
    assert (us_caller.agent, us_caller.rule) == (agents["default"], "default")


def test_time_windows_follow_the_organizations_time_zone_across_a_dst_change(
    agents, make_number, org_a
):
    Organization.objects.filter(pk=org_a.pk).update(timezone="America/New_York")
    org_a.timezone = "America/New_York"
    make_number(
        agent=agents["default"],
        rules=[
            {
                "name": "office",
                "days_of_week": [0, 1, 2, 3, 4],
                "start_time": dt.time(9),
                "end_time": dt.time(17),
                "agent_id": agents["office"].pk,
            },
        ],
    )
    # The same UTC wall time, 13:30, is 08:30 in New York before the 9 March 2025 switch to
    # daylight time and 09:30 after it.
    before = call_route(
        from_number=CALLER, to_number=OUR_NUMBER, at=dt.datetime(2025, 3, 7, 13, 30, tzinfo=UTC)
    )  # Friday, EST
    after = call_route(
        from_number=CALLER, to_number=OUR_NUMBER, at=dt.datetime(2025, 3, 10, 13, 30, tzinfo=UTC)
    )  # Monday, EDT
    weekend = call_route(
        from_number=CALLER, to_number=OUR_NUMBER, at=dt.datetime(2025, 3, 8, 15, 0, tzinfo=UTC)
    )  # Saturday 10:00

    assert before.agent == agents["default"]
    assert after.agent == agents["office"]
    assert weekend.agent == agents["default"]


def test_an_overnight_window_belongs_to_the_day_it_started(agents, make_number):
    make_number(
        agent=agents["default"],
        rules=[
            {
                "name": "Friday night",
                "days_of_week": [4],
                "start_time": dt.time(22),
                "end_time": dt.time(6),
                "agent_id": agents["night"].pk,
            },
        ],
    )

    def agent_at(*when):
        return call_route(
            from_number=CALLER, to_number=OUR_NUMBER, at=dt.datetime(*when, tzinfo=UTC)
        ).agent

    assert agent_at(2025, 6, 6, 23, 0) == agents["night"]  # Friday 23:00
    assert agent_at(2025, 6, 7, 3, 0) == agents["night"]  # Saturday 03:00, Friday's night
    assert agent_at(2025, 6, 7, 23, 0) == agents["default"]  # Saturday 23:00
    assert agent_at(2025, 6, 6, 3, 0) == agents["default"]  # Friday 03:00 is Thursday's


def test_a_paused_agent_sends_the_call_to_the_fallback(agents, make_number):
    from agents.models import Agent

    Agent.objects.filter(pk=agents["sales"].pk).update(status="paused")
    make_number(
        agent=agents["default"],
        fallback_action="forward",
        fallback_forward_number="+14155550123",
        rules=[{"name": "SF", "caller_prefix": "+1415", "agent_id": agents["sales"].pk}],
    )

    decision = call_route(from_number=CALLER, to_number=OUR_NUMBER)

    assert decision.agent is None and decision.rule == "fallback"
    assert (decision.fallback_action, decision.forward_number) == ("forward", "+14155550123")
    assert "paused" in decision.reason


def test_no_rule_and_no_default_agent_plays_the_fallback_message(agents, make_number):
    make_number(fallback_message="We are closed.")

    decision = call_route(from_number=CALLER, to_number=OUR_NUMBER)

    assert (decision.rule, decision.fallback_action, decision.fallback_message) == (
        "fallback",
        "message",
        "We are closed.",
    )
    assert phone_number_agent_get(number=OUR_NUMBER) is None


def test_inactive_rules_are_skipped(agents, make_number):
    make_number(
        agent=agents["default"],
        rules=[
            {"caller_prefix": "+1", "agent_id": agents["sales"].pk, "is_active": False},
        ],
    )

    assert call_route(from_number=CALLER, to_number=OUR_NUMBER).agent == agents["default"]
    assert phone_number_agent_get(number=OUR_NUMBER) == agents["default"]


def test_operators_test_their_rules_through_the_api(
    agents, make_number, make_api_key, bearer, org_a
):
    make_number(
        agent=agents["default"],
        rules=[
            {"name": "SF", "caller_prefix": "+1415", "agent_id": agents["sales"].pk},
        ],
    )
    viewer = bearer(make_api_key(org_a, "viewer"))

    response = viewer.post(
        "/api/v1/phone-numbers/route/",
        {"from_number": CALLER, "to_number": OUR_NUMBER},
        format="json",
    )
    fallback = viewer.post(
        "/api/v1/phone-numbers/route/",
        {"from_number": "+12125550123", "to_number": "+14155550101"},
        format="json",
    )
    bad = viewer.post(
        "/api/v1/phone-numbers/route/",
        {"from_number": "12", "to_number": OUR_NUMBER},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["agent_id"], body["rule"], body["rule_name"]) == (agents["sales"].pk, "rule", "SF")
    assert body["fallback"] is None
    assert fallback.status_code == 404  # not one of our numbers
    assert bad.status_code == 400 and "'12'" in bad.json()["error"]["message"]
