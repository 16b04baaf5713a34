"""Provider-aware validation: a wrong combination is a 400 naming the field and the allowed
values, so it never surfaces in the middle of a call."""

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from agents.models import Agent, AgentVersion
from agents.realtime.registry import PROVIDERS
from knowledge.models import KnowledgeBase

pytestmark = pytest.mark.django_db

URL = "/api/v1/agents/"


@pytest.fixture
def api(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


def create(api, **payload):
    return api.post(URL, {"name": "Support Agent", **payload}, format="json")


def fields_of(response):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["details"]["fields"]


def test_the_documented_example_is_a_valid_create_with_provider_defaults(api):
    response = api.post(
        URL,
        {"name": "Support Agent", "ai_provider": "gemini", "system_prompt": "You are helpful..."},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["model"] == "gemini-3.1-flash-live-preview"
    assert body["voice"] == "Puck"
    assert body["version"] == 1
    assert body["status"] == "active"


def test_openai_defaults_to_gpt_realtime_and_a_recommended_voice(api):
    body = create(api).json()

    assert body["ai_provider"] == "openai"
    assert body["model"] == "gpt-realtime"
    assert body["voice"] in ("marin", "alloy")


def test_hume_takes_its_config_id_from_the_setting_by_default(api, settings):
    settings.HUME_CONFIG_ID = "0b6b5e4e-6b1c-4b59-9a5a-0b7d1f2d7e11"

    body = create(api, ai_provider="hume").json()

    assert body["model"] == "evi-3"
    assert body["provider_config"] == {"config_id": settings.HUME_CONFIG_ID}


def test_an_unknown_provider_is_refused_with_the_allowed_ones(api):
    response = create(api, ai_provider="eleven")

    assert "ai_provider" in fields_of(response)
    assert response.json()["error"]["details"]["allowed"]["ai_provider"] == list(PROVIDERS)


def test_a_model_of_another_provider_is_refused_with_the_allowed_models(api):
    response = create(api, ai_provider="gemini", model="gpt-realtime")

    [message] = fields_of(response)["model"]
    assert "not a gemini model" in message and "gemini-3.1-flash-live-preview" in message
    assert response.json()["error"]["details"]["allowed"]["model"] == list(
        PROVIDERS["gemini"].models
    )


@pytest.mark.parametrize(("provider", "voice"), [("gemini", "alloy"), ("openai", "nova")])
def test_a_voice_the_provider_does_not_have_is_refused(api, provider, voice):
    response = create(api, ai_provider=provider, voice=voice)

    [message] = fields_of(response)["voice"]
    assert f"not a {provider} voice" in message


def test_an_openai_custom_voice_id_is_accepted(api):
    assert create(api, voice="voice_abc123").json()["voice"] == "voice_abc123"


@pytest.mark.parametrize("number", ["12345", "+1555", "+1 415 ABC", "0049 30 901820"])
def test_a_transfer_number_that_is_not_e164_is_refused(api, number):
    assert "transfer_number" in fields_of(create(api, transfer_number=number))


def test_a_transfer_number_is_stored_in_e164(api):
    body = create(api, transfer_number="+1 (415) 555-2671", tools=["transfer_call"]).json()

    assert body["transfer_number"] == "+14155552671"
    assert body["tools"] == ["transfer_call"]


@pytest.mark.parametrize("temperature", [-0.1, 2.5, 100])
def test_a_temperature_out_of_range_is_refused(api, temperature):
    assert "temperature" in fields_of(create(api, ai_provider="gemini", temperature=temperature))


@pytest.mark.parametrize("tool", ["hack_the_planet", "integration:gmail", "integration:.x"])
def test_an_unknown_tool_is_refused_with_the_known_ones(api, tool):
    [message] = fields_of(create(api, tools=["end_call", tool]))["tools"]

    assert (
        "end_call, transfer_call, knowledge_search, send_sms, integration:<server>.<tool>, "
        "custom:<name>" in message
    )


def test_builtin_and_integration_tools_are_accepted_once_each(api, org_a):
    from integrations.models import Integration

    with tenant_context(org_a):
        # An integration whose server listed send_email, enabled for agents.
        Integration.objects.create(
            kind="gmail",
            name="Gmail",
            slug="gmail",
            url="https://mcp.example.com/mcp",
            tools=[{"name": "send_email", "description": "", "input_schema": {"type": "object"}}],
            tools_listed_at=timezone.now(),
            enabled_tools=["send_email"],
        )
    body = create(
        api, tools=["end_call", "knowledge_search", "integration:gmail.send_email", "end_call"]
    ).json()

    assert body["tools"] == ["end_call", "knowledge_search", "integration:gmail.send_email"]


def test_the_transfer_tool_needs_a_transfer_number(api):
    assert "transfer_number" in fields_of(create(api, tools=["transfer_call"]))


def test_a_knowledge_base_of_another_organization_or_none_is_refused(api, org_a, org_b):
    with tenant_context(org_a):
        ours = KnowledgeBase.objects.create(name="Our FAQ")
    with tenant_context(org_b):
        # Each schema has its own id sequence: take an id of B's that A has never used.
        theirs = KnowledgeBase.objects.create(name="B's secrets")
        while theirs.pk <= ours.pk:
            theirs = KnowledgeBase.objects.create(name="B's secrets")

    response = create(api, knowledge_base_ids=[ours.pk, theirs.pk, 987654321])

    messages = fields_of(response)["knowledge_base_ids"]
    assert messages == [
        f"Knowledge base {pk} does not exist." for pk in sorted([theirs.pk, 987654321])
    ]
    assert create(api, knowledge_base_ids=[ours.pk]).json()["knowledge_base_ids"] == [ours.pk]


def test_durations_outside_their_ranges_are_refused(api):
    fields = fields_of(create(api, max_call_duration_seconds=5, silence_timeout_seconds=0))

    assert set(fields) == {"max_call_duration_seconds", "silence_timeout_seconds"}


def test_provider_settings_the_provider_does_not_use_are_refused(api):
    assert "provider_config" in fields_of(create(api, provider_config={"config_id": "x"}))
    assert "provider_config" in fields_of(
        create(api, ai_provider="hume", provider_config={"config_id": "not-a-uuid"})
    )


def test_every_invalid_field_is_reported_at_once(api):
    fields = fields_of(
        create(api, ai_provider="gemini", model="nope", voice="nope", temperature=9, tools=["nope"])
    )

    assert {"model", "voice", "temperature", "tools"} <= set(fields)


def test_an_invalid_change_leaves_the_agent_and_its_history_untouched(api, in_org_a):
    agent_id = create(api, ai_provider="gemini").json()["id"]

    response = api.patch(f"{URL}{agent_id}/", {"model": "gpt-realtime"}, format="json")

    assert "model" in fields_of(response)
    assert Agent.objects.get(pk=agent_id).model == "gemini-3.1-flash-live-preview"
    assert AgentVersion.objects.filter(agent_id=agent_id).count() == 1


def test_switching_provider_resets_model_and_voice_to_the_new_providers_defaults(api):
    agent_id = create(api, ai_provider="openai", voice="cedar").json()["id"]

    body = api.patch(f"{URL}{agent_id}/", {"ai_provider": "gemini"}, format="json").json()

    assert (body["model"], body["voice"]) == ("gemini-3.1-flash-live-preview", "Puck")


def test_an_unknown_status_is_refused_with_the_allowed_ones(api):
    response = create(api, status="sleeping")

    assert "status" in fields_of(response)
    assert response.json()["error"]["details"]["allowed"]["status"] == ["active", "paused"]


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("name", 200),
        ("description", 2_000),
        ("system_prompt", 32_000),
        ("first_message", 2_000),
        ("voicemail_message", 2_000),
    ],
)
def test_free_text_has_a_maximum_and_up_to_it_is_accepted(api, field, limit):
    at_limit = create(api, **{field: "x" * limit})
    over = create(api, **{field: "x" * (limit + 1)})

    assert at_limit.status_code == 201, at_limit.json()
    assert field in fields_of(over)


def test_a_huge_prompt_is_refused_before_it_is_copied_into_a_version(api, in_org_a):
    response = create(api, system_prompt="x" * 19_000_000)

    assert "system_prompt" in fields_of(response)
    assert not AgentVersion.objects.exists()


def test_the_limits_hold_for_code_and_the_admin_too(in_org_a):
    from agents.services import agent_create
    from voiceagents.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        agent_create(name="Support", system_prompt="x" * 32_001)

    assert info.value.details["fields"]["system_prompt"] == [
        "At most 32,000 characters; this has 32,001."
    ]


def test_tool_and_knowledge_base_lists_have_a_maximum(api):
    tools = [f"integration:crm.tool{n}" for n in range(51)]

    response = create(api, tools=tools, knowledge_base_ids=list(range(1, 22)))

    assert {"tools", "knowledge_base_ids"} <= set(fields_of(response))
