"""The agents API: CRUD, filters, ordering, versions, diff, rollback, duplicate, roles."""

import pytest

from agents.models import Agent, AgentVersion
from agents.services import agent_delete
from tests.agents.factories import AgentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/agents/"


@pytest.fixture
def api(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


def names(response):
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["results"]]


def test_an_admin_creates_reads_changes_and_deletes_an_agent(api, in_org_a):
    created = api.post(
        URL,
        {
            "name": "Support Agent",
            "ai_provider": "gemini",
            "voice": "Kore",
            "system_prompt": "You help {{customer_name}}.",
            "first_message": "Hello!",
            "end_call_phrases": ["goodbye", "bye"],
            "tools": ["end_call"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    agent = created.json()
    assert agent["prompt_variables"] == ["customer_name"]
    assert agent["end_call_phrases"] == ["goodbye", "bye"]
    detail = f"{URL}{agent['id']}/"

    assert api.get(detail).json()["voice"] == "Kore"
    changed = api.patch(detail, {"first_message": ""}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["first_message"], changed.json()["version"]) == ("", 2)

    assert api.delete(detail).status_code == 204
    missing = api.get(detail)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "agent_not_found"
    assert agent["name"] not in names(api.get(URL))
    assert Agent.objects.filter(pk=agent["id"]).exists()  # soft-deleted, calls keep it


def test_the_author_of_each_change_is_recorded(org_a, make_member, make_jwt, bearer, in_org_a):
    user = make_member(org_a, "admin")
    client = bearer(make_jwt(user, org_a))

    body = client.post(URL, {"name": "Mine"}, format="json").json()

    assert body["created_by"] == body["updated_by"] == user.email
    assert AgentVersion.objects.get(agent_id=body["id"]).created_by == user


def test_agents_are_filtered_by_provider_status_and_name(api, in_org_a):
    AgentFactory(name="Sales Bot", ai_provider="gemini")
    AgentFactory(name="Support Bot", ai_provider="openai", status="paused")
    AgentFactory(name="Billing", ai_provider="hume")

    assert names(api.get(URL, {"ai_provider": "gemini"})) == ["Sales Bot"]
    assert names(api.get(URL, {"status": "paused"})) == ["Support Bot"]
    assert names(api.get(URL, {"name": "bot"})) == ["Sales Bot", "Support Bot"]
    assert names(api.get(URL, {"ordering": "-name"})) == ["Support Bot", "Sales Bot", "Billing"]
    bad = api.get(URL, {"ai_provider": "eleven"})
    assert bad.status_code == 400 and "ai_provider" in bad.json()["error"]["details"]["fields"]


def test_the_list_is_paginated(api, in_org_a):
    for n in range(3):
        AgentFactory(name=f"Agent {n}")

    body = api.get(URL, {"page_size": 2}).json()

    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


def test_versions_diff_and_rollback_through_the_api(api, in_org_a):
    agent = AgentFactory(system_prompt="v1 prompt")
    detail = f"{URL}{agent.pk}/"
    api.patch(detail, {"system_prompt": "v2 prompt"}, format="json")
    api.patch(detail, {"temperature": 0.9}, format="json")

    versions = api.get(f"{detail}versions/").json()["results"]
    assert [v["number"] for v in versions] == [3, 2, 1]
    assert versions[0]["changed_fields"] == ["temperature"]
    assert api.get(f"{detail}versions/1/").json()["config"]["system_prompt"] == "v1 prompt"

    diff = api.get(f"{detail}versions/diff/", {"from": 1, "to": 3}).json()
    assert (diff["from_version"], diff["to_version"]) == (1, 3)
    assert [c["field"] for c in diff["changes"]] == ["system_prompt", "temperature"]
    assert "-v1 prompt" in diff["changes"][0]["diff"]
    latest = api.get(f"{detail}versions/diff/").json()  # default: current vs the one before
    assert (latest["from_version"], latest["to_version"]) == (2, 3)

    rolled = api.post(f"{detail}rollback/", {"version": 1}, format="json")
    assert rolled.status_code == 200
    assert (rolled.json()["version"], rolled.json()["system_prompt"]) == (4, "v1 prompt")
    assert rolled.json()["temperature"] is None


def test_unknown_versions_answer_404_in_the_error_shape(api, in_org_a):
    detail = f"{URL}{AgentFactory().pk}/"

    for response in (
        api.get(f"{detail}versions/9/"),
        api.get(f"{detail}versions/diff/", {"from": 1, "to": 9}),
        api.post(f"{detail}rollback/", {"version": 9}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "agent_version_not_found"
    assert api.post(f"{detail}rollback/", {}, format="json").status_code == 400
    assert api.get(f"{detail}versions/diff/", {"from": "x"}).status_code == 400


def test_duplicate_makes_a_new_agent(api, in_org_a):
    agent = AgentFactory(name="Original")

    response = api.post(f"{URL}{agent.pk}/duplicate/", {"name": "Twin"}, format="json")

    assert response.status_code == 201
    assert response.json()["name"] == "Twin" and response.json()["version"] == 1
    assert names(api.get(URL, {"ordering": "name"})) == ["Original", "Twin"]


@pytest.mark.parametrize(
    ("role", "can_read", "can_write"),
    [
        ("viewer", True, False),
        ("member", True, False),
        ("admin", True, True),
        ("owner", True, True),
    ],
)
def test_viewers_read_and_only_admins_manage(
    org_a, make_api_key, bearer, in_org_a, role, can_read, can_write
):
    agent = AgentFactory()
    client = bearer(make_api_key(org_a, role))
    detail = f"{URL}{agent.pk}/"

    reads = [
        client.get(URL),
        client.get(detail),
        client.get(f"{detail}versions/"),
        client.get(f"{detail}versions/diff/", {"from": 1, "to": 1}),
    ]
    writes = [
        client.post(URL, {"name": "New"}, format="json"),
        client.patch(detail, {"name": "Changed"}, format="json"),
        client.post(f"{detail}duplicate/", {}, format="json"),
        client.post(f"{detail}rollback/", {"version": 1}, format="json"),
        client.delete(detail),
    ]

    assert all((r.status_code == 200) == can_read for r in reads), [r.status_code for r in reads]
    expected = [201, 200, 201, 200, 204] if can_write else [403] * 5
    assert [r.status_code for r in writes] == expected


def test_the_organization_lists_its_agents(org_a, make_api_key, bearer, in_org_a):
    AgentFactory(name="Listed")
    agent_delete(agent=AgentFactory(name="Deleted"))
    client = bearer(make_api_key(org_a, "viewer"))

    assert names(client.get(f"/api/v1/organizations/{org_a.pk}/agents/")) == ["Listed"]
    assert client.get("/api/v1/organizations/987654/agents/").status_code == 404


@pytest.mark.parametrize(
    "credential, status",
    [("viewer key", 200), ("owner key", 200), ("jwt without organization", 403), (None, 401)],
)
def test_the_organization_agents_list_needs_a_member_of_that_organization(
    org_a, make_member, make_api_key, make_jwt, bearer, api_client, credential, status
):
    url = f"/api/v1/organizations/{org_a.pk}/agents/"
    if credential is None:
        client = api_client
    elif credential == "jwt without organization":
        client = bearer(make_jwt(make_member(org_a, "owner")))
    else:
        client = bearer(make_api_key(org_a, credential.split()[0]))

    assert client.get(url).status_code == status


def test_another_organizations_agents_are_not_listed(org_a, org_b, make_api_key, bearer):
    from django_tenants.utils import tenant_context

    with tenant_context(org_b):
        AgentFactory(name="B's agent")
    client = bearer(make_api_key(org_a, "owner"))

    assert client.get(f"/api/v1/organizations/{org_b.pk}/agents/").status_code == 404
    assert names(client.get(f"/api/v1/organizations/{org_a.pk}/agents/")) == []
    assert client.post(f"/api/v1/organizations/{org_a.pk}/agents/", {}).status_code == 405
