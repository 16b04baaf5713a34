"""/api/v1/credentials/: admins and owners add, read, change, rotate and remove the
organization's provider credentials; secrets are write-only, stored as ciphertext only, and
every change is an audit event."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from integrations.models import ProviderCredential
from organizations.models import AuditEvent
from tests.fakes import twilio_rest
from tests.integrations.conftest import token

pytestmark = pytest.mark.django_db

URL = "/api/v1/credentials/"
SID = "AC" + "0123456789abcdef" * 2


def _text(response) -> str:
    return response.content.decode()


def _windows(secret: str, width: int = 6) -> list[str]:
    """Every piece of ``secret`` that would give part of it away."""
    return [secret[i : i + width] for i in range(len(secret) - width + 1)]


@pytest.fixture
def owner(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "owner"))


def test_an_admin_adds_a_credential_and_the_answer_never_holds_the_secret(
    org_a, make_api_key, bearer
):
    admin = bearer(make_api_key(org_a, "admin"))
    secret = token()

    created = admin.post(
        URL,
        {
            "kind": "twilio",
            "label": "Production",
            "identifiers": {"account_sid": SID},
            "secret": secret,
        },
        format="json",
    )
    listed = admin.get(URL)
    detail = admin.get(f"{URL}{created.json()['id']}/")

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["kind"] == "twilio" and body["label"] == "Production"
    assert body["identifiers"] == {"account_sid": SID}
    assert body["secret_last_four"] == secret[-4:]
    assert body["verification"] == {"status": "unverified", "message": "", "verified_at": None}
    assert set(body) >= {"created_at", "updated_at", "rotated_at", "last_used_at"}
    assert "secret" not in body
    for response in (created, listed, detail):
        assert response.status_code in (200, 201)
        assert secret not in _text(response)
        assert not any(piece in _text(response) for piece in _windows(secret[:-4]))
    assert [item["kind"] for item in listed.json()["results"]] == ["twilio"]


def test_the_database_column_holds_ciphertext_only(owner, org_a):
    secret = token()
    response = owner.post(URL, {"kind": "openai", "secret": secret}, format="json")
    assert response.status_code == 201

    with tenant_context(org_a), connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret, secret_last_four, identifiers::text, label "
            "FROM integrations_providercredential"
        )
        ((ciphertext, last_four, identifiers, label),) = cursor.fetchall()
        stored = ProviderCredential.objects.get()

    row = f"{ciphertext}{identifiers}{label}"
    assert ciphertext.startswith("gAAAAA")  # a Fernet token
    assert not any(piece in row for piece in _windows(secret, 5))
    assert last_four == secret[-4:]
    assert stored.secret.reveal() == secret and secret not in repr(stored.secret)
    # The audit trail (public schema) has no part of it either.
    with connection.cursor() as cursor:
        cursor.execute("SELECT data::text FROM organizations_auditevent")
        audit = " ".join(text for (text,) in cursor.fetchall())
    assert not any(piece in audit for piece in _windows(secret, 5))


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewers_and_members_can_neither_see_nor_change_credentials(
    role, org_a, make_api_key, bearer, make_credential
):
    credential = make_credential(org_a, "openai", token())
    client = bearer(make_api_key(org_a, role))

    answers = [
        client.get(URL),
        client.get(f"{URL}{credential.pk}/"),
        client.post(URL, {"kind": "gemini", "secret": token()}, format="json"),
        client.patch(f"{URL}{credential.pk}/", {"label": "x"}, format="json"),
        client.post(f"{URL}{credential.pk}/verify/", {}, format="json"),
        client.delete(f"{URL}{credential.pk}/"),
    ]

    assert [a.status_code for a in answers] == [403] * 6


def test_rotating_changes_the_ciphertext_and_resets_the_verification(owner, org_a, make_credential):
    old = token()
    credential = make_credential(org_a, "twilio", old, account_sid=SID)
    with tenant_context(org_a):
        ProviderCredential.objects.filter(pk=credential.pk).update(verification_status="ok")
    new = token()

    response = owner.patch(f"{URL}{credential.pk}/", {"secret": new}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["secret_last_four"] == new[-4:]
    assert response.json()["verification"]["status"] == "unverified"
    assert response.json()["rotated_at"] > credential.rotated_at.isoformat().replace("+00:00", "Z")
    with tenant_context(org_a):
        stored = ProviderCredential.objects.get()
    assert stored.secret.reveal() == new
    assert stored.secret.ciphertext != credential.secret.ciphertext


def test_the_kind_cannot_change_and_a_second_credential_of_a_kind_is_a_409(
    owner, org_a, make_credential
):
    credential = make_credential(org_a, "openai", token())

    renamed = owner.patch(f"{URL}{credential.pk}/", {"kind": "gemini"}, format="json")
    second = owner.post(URL, {"kind": "openai", "secret": token()}, format="json")

    assert renamed.status_code == 400
    assert "kind" in renamed.json()["error"]["details"]["fields"]
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "credential_kind_taken"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "twilio", "secret": "x" * 20}, "identifiers.account_sid"),
        (
            {"kind": "twilio", "secret": "x" * 20, "identifiers": {"account_sid": "nope"}},
            "identifiers.account_sid",
        ),
        ({"kind": "openai", "secret": "x" * 20, "identifiers": {"org": "1"}}, "identifiers.org"),
        (
            {"kind": "hume", "secret": "x" * 20, "identifiers": {"config_id": "not-a-uuid"}},
            "identifiers.config_id",
        ),
        ({"kind": "plivo", "identifiers": {"auth_id": "MAXXXXXXXXXXXXXXXXXX"}}, "secret"),
        ({"kind": "openai", "secret": "   "}, "secret"),
        ({"kind": "fax", "secret": "x" * 20}, "kind"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(owner, payload, field):
    response = owner.post(URL, payload, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]["fields"]


def test_every_change_is_an_audit_event_without_the_secret(
    org_a, make_member, make_jwt, bearer, twilio
):
    user = make_member(org_a, "admin")
    client = bearer(make_jwt(user, org_a))
    secret, rotated = token(), token()

    created = client.post(
        URL,
        {"kind": "twilio", "identifiers": {"account_sid": twilio.account_sid}, "secret": secret},
        format="json",
    ).json()
    client.patch(f"{URL}{created['id']}/", {"label": "Main"}, format="json")
    client.patch(f"{URL}{created['id']}/", {"secret": rotated}, format="json")
    client.post(f"{URL}{created['id']}/verify/", {}, format="json")
    client.delete(f"{URL}{created['id']}/")

    events = list(AuditEvent.objects.filter(organization=org_a).order_by("id"))
    assert [e.action for e in events] == [
        "credential.created",
        "credential.updated",
        "credential.rotated",
        "credential.verified",
        "credential.deleted",
    ]
    assert {(e.actor_id, e.target_type, e.target_id) for e in events} == {
        (user.pk, "provider_credential", str(created["id"]))
    }
    assert events[0].data["identifiers"] == {"account_sid": twilio.account_sid}
    assert events[1].data["changed"] == ["label"]
    assert events[3].data["ok"] is False  # the fake does not know this token
    dumped = json.dumps([e.data for e in events])
    assert secret not in dumped and rotated not in dumped


def test_an_api_key_is_recorded_on_the_audit_event(org_a, make_api_key, bearer):
    client = bearer(make_api_key(org_a, "admin"))

    client.post(URL, {"kind": "gemini", "secret": token()}, format="json")

    event = AuditEvent.objects.get(organization=org_a)
    assert event.api_key is not None and event.api_key.organization_id == org_a.pk
    listed = client.get("/api/v1/audit-events/")
    assert listed.status_code == 200, listed.content
    assert [item["action"] for item in listed.json()["results"]] == ["credential.created"]


def test_the_openapi_schema_keeps_secrets_write_only_and_examples_hold_none():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    assert "secret" not in components["Credential"]["properties"]
    assert components["CredentialCreateRequest"]["properties"]["secret"]["writeOnly"] is True
    text = json.dumps(schema)
    assert twilio_rest.AUTH_TOKEN not in text
    for operation in schema["paths"]["/api/v1/credentials/"].values():
        for example in operation.get("requestBody", {}).get("content", {}).values():
            for value in (example.get("examples") or {}).values():
                secret = value["value"].get("secret", "")
                assert secret.startswith("<") and secret.endswith(">"), secret


def test_the_admin_shows_only_the_last_four_characters(org_a, make_member, make_credential):
    secret = token()
    credential = make_credential(org_a, "twilio", secret, account_sid=SID)
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "admin"))

    pages = [
        client.get("/admin/integrations/providercredential/"),
        client.get(f"/admin/integrations/providercredential/{credential.pk}/change/"),
        client.get("/admin/integrations/providercredential/add/"),
    ]

    for page in pages:
        assert page.status_code == 200
        assert secret not in _text(page)
        assert credential.secret.ciphertext not in _text(page)
    assert f"••••{secret[-4:]}" in _text(pages[0])


def test_the_admin_writes_through_the_services(org_a, make_member):
    client = Client(HTTP_HOST="alpha.localhost")
    admin = make_member(org_a, "admin")
    client.force_login(admin)
    secret = token()

    response = client.post(
        "/admin/integrations/providercredential/add/",
        {
            "kind": "plivo",
            "label": "Plivo",
            "auth_id": "MAFAKEPLIVO0000000009",
            "new_secret": secret,
        },
    )
    refused = client.post(
        "/admin/integrations/providercredential/add/",
        {"kind": "twilio", "label": "", "new_secret": token()},  # no account SID
    )

    assert response.status_code == 302, _text(response)
    with tenant_context(org_a):
        stored = ProviderCredential.objects.get()
    assert stored.identifiers == {"auth_id": "MAFAKEPLIVO0000000009"}
    assert stored.secret.reveal() == secret
    assert AuditEvent.objects.get(organization=org_a).actor == admin
    assert refused.status_code == 200 and "Account SID" in _text(refused)
    with tenant_context(org_a):
        assert ProviderCredential.objects.count() == 1


def test_members_do_not_see_the_credentials_admin(org_a, make_member, make_credential):
    credential = make_credential(org_a, "openai", token())
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "member"))

    page = client.get(f"/admin/integrations/providercredential/{credential.pk}/change/")

    assert page.status_code in (302, 403)


def test_the_admin_form_offers_every_identifier_a_kind_takes():
    from integrations.admin import IDENTIFIER_FIELDS
    from integrations.kinds import KINDS

    names = {i.name for spec in KINDS.values() for i in spec.identifiers}

    assert set(IDENTIFIER_FIELDS) == names


def test_an_organization_never_sees_another_organizations_audit_events(
    org_a, org_b, make_api_key, bearer
):
    a = bearer(make_api_key(org_a, "admin"))
    b = bearer(make_api_key(org_b, "admin"))
    b.post(URL, {"kind": "gemini", "secret": token()}, format="json")

    assert AuditEvent.objects.filter(organization=org_b).exists()
    listed = a.get("/api/v1/audit-events/")
    assert listed.status_code == 200, listed.content
    assert listed.json()["results"] == []
    # Naming B in the request changes nothing: the key's organization is the only one listed.
    assert a.get(f"/api/v1/audit-events/?organization={org_b.pk}").json()["results"] == []
