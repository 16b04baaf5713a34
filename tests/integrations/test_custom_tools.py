"""Custom HTTP tools: the organization's own endpoint gets the arguments as a signed JSON POST
(verified by the receiver with the lines docs/api.md gives customers), the JSON answer is
the result, failures have their codes, and private addresses stay out of reach."""

from __future__ import annotations

import time

import pytest
from django_tenants.utils import tenant_context

from integrations import signing
from integrations.models import CustomTool, ToolExecution
from tests.integrations.tool_support import make_custom_tool

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

URL = "/api/v1/custom-tools/"


@pytest.fixture
def admin(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


def test_an_admin_adds_a_custom_tool_and_sees_its_secret_once(org_a, admin, tool_endpoint):
    created = admin.post(
        URL,
        {
            "name": "book_appointment",
            "description": "Book a slot.",
            "parameters": {"type": "object", "properties": {"day": {"type": "string"}}},
            "url": tool_endpoint.url("/book"),
        },
        format="json",
    )
    detail = admin.get(f"{URL}{created.json()['id']}/")

    assert created.status_code == 201, created.content
    secret = created.json()["signing_secret"]
    assert secret.startswith("vasig_") and len(secret) > 40
    assert created.json()["signing_secret_last_four"] == secret[-4:]
    assert "signing_secret" not in detail.json() and secret not in detail.content.decode()
    with tenant_context(org_a):
        stored = CustomTool.objects.values_list("signing_secret", flat=True).get()
    assert secret not in str(stored)


def test_the_tool_is_called_with_a_signed_post_and_its_json_is_the_result(
    org_a, member, tool_endpoint
):
    tool, secret = make_custom_tool(org_a, tool_endpoint)

    response = member.post(
        f"{URL}{tool.pk}/execute/", {"arguments": {"day": "2026-12-24"}}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["result"] == {"booked": True, "day": "2026-12-24"}
    assert response.json()["server"] == "custom" and response.json()["tool"] == "book_appointment"
    [received] = tool_endpoint.received
    assert received.verified
    assert received.body == {
        "tool": "book_appointment",
        "arguments": {"day": "2026-12-24"},
        "call_id": None,
    }
    # Our own verifier agrees with the receiver's ten lines.
    signing.signature_verify(
        secret=secret, header=received.headers["x-voiceagents-signature"], body=received.raw
    )


def test_a_rotated_secret_signs_from_then_on(org_a, admin, member, tool_endpoint):
    tool, old = make_custom_tool(org_a, tool_endpoint)

    rotated = admin.patch(f"{URL}{tool.pk}/", {"rotate_signing_secret": True}, format="json")
    refused = member.post(f"{URL}{tool.pk}/execute/", {"arguments": {"day": "x"}}, format="json")
    tool_endpoint.secret = rotated.json()["signing_secret"]
    accepted = member.post(f"{URL}{tool.pk}/execute/", {"arguments": {"day": "x"}}, format="json")

    assert rotated.json()["signing_secret"] != old
    assert refused.status_code == 502 and "HTTP 401" in refused.json()["error"]["message"]
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    "path, status, code, message",
    [
        ("/fail", 502, "tool_failed", "HTTP 500: calendar is down"),
        ("/text", 502, "tool_bad_response", "not JSON"),
        ("/slow", 504, "tool_timed_out", "did not answer within 1 s"),
    ],
)
def test_endpoint_failures_have_their_codes(
    org_a, member, tool_endpoint, path, status, code, message
):
    tool, _secret = make_custom_tool(org_a, tool_endpoint, path, timeout_seconds=1)
    tool_endpoint.slow_seconds = 2

    response = member.post(f"{URL}{tool.pk}/execute/", {"arguments": {"day": "x"}}, format="json")

    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert message in response.json()["error"]["message"]
    with tenant_context(org_a):
        assert ToolExecution.objects.get().error_code == code


def test_arguments_are_checked_against_the_parameters(org_a, member, tool_endpoint):
    tool, _secret = make_custom_tool(org_a, tool_endpoint)

    response = member.post(f"{URL}{tool.pk}/execute/", {"arguments": {}}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "tool_arguments_invalid"
    assert tool_endpoint.received == []


def test_private_addresses_and_plain_http_are_refused_by_default(
    org_a, admin, member, tool_endpoint, settings
):
    tool, _secret = make_custom_tool(org_a, tool_endpoint)
    settings.INTEGRATION_URLS_ALLOW_PRIVATE = False

    at_run = member.post(f"{URL}{tool.pk}/execute/", {"arguments": {"day": "x"}}, format="json")
    settings.INTEGRATION_URLS_ALLOW_HTTP = False
    at_save = admin.post(URL, {"name": "other", "url": tool_endpoint.url("/book")}, format="json")

    assert at_run.status_code == 400 and at_run.json()["error"]["code"] == "tool_url_refused"
    assert tool_endpoint.received == []
    assert at_save.status_code == 400
    assert at_save.json()["error"]["details"]["fields"]["url"] == ["Use an https:// URL."]


@pytest.mark.parametrize(
    "parameters",
    [{"type": "array"}, {"type": "object", "properties": {"a": {"type": "nonsense"}}}, "x"],
)
def test_parameters_must_be_an_object_json_schema(admin, parameters, tool_endpoint):
    response = admin.post(
        URL,
        {"name": "t", "url": tool_endpoint.url("/book"), "parameters": parameters},
        format="json",
    )

    assert response.status_code == 400
    assert "parameters" in response.json()["error"]["details"]["fields"]


def test_names_are_unique_per_organization(org_a, org_b, admin, tool_endpoint):
    make_custom_tool(org_b, tool_endpoint)  # another organization's: no conflict
    body = {"name": "book_appointment", "url": tool_endpoint.url("/book")}

    first = admin.post(URL, body, format="json")
    second = admin.post(URL, body, format="json")

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "custom_tool_name_taken"


def test_signature_verification_refuses_old_altered_or_foreign_requests():
    body = b'{"tool":"t"}'
    header = signing.signature_header(secret="s1", body=body, timestamp=int(time.time()))

    assert signing.signature_verify(secret="s1", header=header, body=body)
    for secret, sent_body, sent_header in [
        ("s2", body, header),
        ("s1", b'{"tool":"u"}', header),
        ("s1", body, signing.signature_header(secret="s1", body=body, timestamp=1)),
        ("s1", body, "v1=abc"),
        ("s1", body, None),
    ]:
        with pytest.raises(signing.SignatureInvalid):
            signing.signature_verify(secret=secret, header=sent_header, body=sent_body)
    # During a rotation both secrets sign.
    both = signing.signature_header(secret=["new", "old"], body=body)
    assert signing.signature_verify(secret="old", header=both, body=body)
