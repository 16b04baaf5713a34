"""Organizations, members and API keys through the API; each role's allowed and refused actions."""

import pytest
from django.core import mail
from django.db import connection

from organizations.models import ApiKey, Domain, Invitation, Membership, Organization
from organizations.services import invitation_create

pytestmark = pytest.mark.django_db


def org_url(org, suffix=""):
    return f"/api/v1/organizations/{org.pk}/{suffix}"


def test_create_organization_makes_schema_domain_and_owner(
    db, make_member, org_a, make_jwt, bearer
):
    user = make_member(org_a, "viewer")
    response = bearer(make_jwt(user)).post(
        "/api/v1/organizations/", {"name": "My Company", "industry": "retail"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "my-company"
    assert body["domain"] == "my-company.localhost"
    org = Organization.objects.get(pk=body["id"])
    assert Membership.objects.get(organization=org, user=user).role == "owner"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [org.schema_name]
        )
        assert cursor.fetchone() is not None


def test_organization_creation_that_fails_half_way_leaves_nothing_behind(
    db, make_member, org_a, make_jwt, bearer
):
    # The domain is taken by someone else: the failure comes after the schema was created
    # and migrated, so everything made before it must be rolled back.
    Domain.objects.create(domain="half-made.localhost", tenant=org_a)
    user = make_member(org_a, "owner")
    response = bearer(make_jwt(user)).post(
        "/api/v1/organizations/", {"name": "Half Made", "slug": "half-made"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "slug_taken"
    assert not Organization.objects.filter(slug="half-made").exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", ["org_half_made"]
        )
        assert cursor.fetchone() is None


def test_create_organization_validates_input(db, make_member, org_a, make_jwt, bearer):
    user = make_member(org_a, "owner")
    client = bearer(make_jwt(user))
    missing = client.post("/api/v1/organizations/", {}, format="json")
    assert missing.status_code == 400
    assert "name" in missing.json()["error"]["details"]["fields"]
    bad_tz = client.post(
        "/api/v1/organizations/", {"name": "X", "timezone": "Mars/Base"}, format="json"
    )
    assert bad_tz.status_code == 400
    assert "timezone" in bad_tz.json()["error"]["details"]["fields"]
    taken = client.post("/api/v1/organizations/", {"name": "X", "slug": "alpha"}, format="json")
    assert taken.status_code == 409


def test_api_key_cannot_create_organizations(org_a, make_api_key, bearer):
    response = bearer(make_api_key(org_a, "owner")).post(
        "/api/v1/organizations/", {"name": "Nope"}, format="json"
    )
    assert response.status_code == 403


def test_owner_updates_organization_settings(org_a, make_api_key, bearer):
    response = bearer(make_api_key(org_a, "owner")).patch(
        org_url(org_a),
        {"max_concurrent_calls": 25, "timezone": "Europe/Berlin", "calling_window_start": "08:30"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    org_a.refresh_from_db()
    assert (org_a.max_concurrent_calls, org_a.timezone) == (25, "Europe/Berlin")
    assert str(org_a.calling_window_start) == "08:30:00"


@pytest.mark.parametrize(
    "role, allowed",
    [("viewer", False), ("member", False), ("admin", False), ("owner", True)],
)
def test_only_owners_change_the_organization(org_a, make_api_key, bearer, role, allowed):
    client = bearer(make_api_key(org_a, role))
    assert client.get(org_url(org_a)).status_code == 200
    response = client.patch(org_url(org_a), {"industry": "health"}, format="json")
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(
    "role, can_read, can_manage",
    [
        ("viewer", False, False),
        ("member", False, False),
        ("admin", True, True),
        ("owner", True, True),
    ],
)
def test_api_key_management_needs_admin(org_a, make_api_key, bearer, role, can_read, can_manage):
    client = bearer(make_api_key(org_a, role))
    assert client.get("/api/v1/api-keys/").status_code == (200 if can_read else 403)
    created = client.post("/api/v1/api-keys/", {"name": "ci", "role": "viewer"}, format="json")
    assert created.status_code == (201 if can_manage else 403)


def test_api_key_is_shown_once_and_revocation_stops_it(org_a, make_api_key, bearer):
    admin = bearer(make_api_key(org_a, "admin"))
    created = admin.post("/api/v1/api-keys/", {"name": "ci", "role": "member"}, format="json")
    body = created.json()
    assert body["key"].startswith("va_live_") and body["prefix"] in body["key"]
    listed = admin.get("/api/v1/api-keys/").json()["results"]
    assert all("key" not in item for item in listed)
    new_client = bearer(body["key"])
    assert new_client.get("/api/v1/organizations/").status_code == 200
    assert admin.delete(f"/api/v1/api-keys/{body['id']}/").status_code == 204
    assert new_client.get("/api/v1/organizations/").status_code == 401
    assert ApiKey.objects.get(pk=body["id"]).revoked_at is not None


def test_admin_cannot_mint_an_owner_key(org_a, make_api_key, bearer):
    response = bearer(make_api_key(org_a, "admin")).post(
        "/api/v1/api-keys/", {"name": "escalate", "role": "owner"}, format="json"
    )
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["admin", "owner"])
def test_the_api_keys_resource_cannot_change_the_organization(org_a, make_api_key, bearer, role):
    # Regression: the API key viewset once inherited the organization viewset's actions, so an
    # admin key could PATCH owner-only settings at /api-keys/{organization id}/.
    client = bearer(make_api_key(org_a, role))
    before = (org_a.max_concurrent_calls, org_a.industry)

    response = client.patch(
        f"/api/v1/api-keys/{org_a.pk}/",
        {"max_concurrent_calls": 9999, "industry": "hijacked"},
        format="json",
    )

    assert response.status_code == 405
    org_a.refresh_from_db()
    assert (org_a.max_concurrent_calls, org_a.industry) == before


def test_the_api_keys_resource_has_no_organization_routes(org_a, make_member, make_api_key, bearer):
    member = make_member(org_a, "member")
    client = bearer(make_api_key(org_a, "admin"))
    membership = Membership.objects.get(organization=org_a, user=member)

    for path in ("members/", f"members/{membership.pk}/", "agents/"):
        assert client.get(f"/api/v1/api-keys/{org_a.pk}/{path}").status_code == 404, path
    added = client.post(
        f"/api/v1/api-keys/{org_a.pk}/members/", {"email": "x@example.test"}, format="json"
    )
    assert added.status_code == 404
    assert client.delete(f"/api/v1/api-keys/{org_a.pk}/members/{membership.pk}/").status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()


# --- members ----------------------------------------------------------------------------------


def test_owner_adds_existing_user_and_invites_unknown_email(
    org_a, make_member, make_jwt, bearer, org_b
):
    owner = make_member(org_a, "owner")
    someone = make_member(org_b, "viewer")
    client = bearer(make_jwt(owner, org_a))
    added = client.post(
        org_url(org_a, "members/"), {"email": someone.email, "role": "admin"}, format="json"
    )
    assert added.status_code == 201
    assert Membership.objects.get(organization=org_a, user=someone).role == "admin"

    invited = client.post(
        org_url(org_a, "members/"),
        {"email": "newbie@example.test", "role": "member"},
        format="json",
    )
    assert invited.status_code == 202
    assert Invitation.objects.filter(organization=org_a, email="newbie@example.test").exists()


def test_invitation_is_emailed_and_accepted_once(
    org_a, make_member, make_jwt, bearer, django_capture_on_commit_callbacks
):
    owner = make_member(org_a, "owner")
    with django_capture_on_commit_callbacks(execute=True):
        _invitation, token = invitation_create(
            organization=org_a, email="guest@example.test", role="viewer", invited_by=owner
        )
    assert len(mail.outbox) == 1 and token in mail.outbox[0].body

    from tests.organizations.factories import UserFactory

    guest = UserFactory(email="guest@example.test")
    client = bearer(make_jwt(guest))
    accepted = client.post("/api/v1/invitations/accept/", {"token": token}, format="json")
    assert accepted.status_code == 201
    assert accepted.json()["role"] == "viewer"
    again = client.post("/api/v1/invitations/accept/", {"token": token}, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invitation_invalid"


def test_members_list_and_role_changes(org_a, make_member, make_jwt, bearer):
    owner = make_member(org_a, "owner")
    member = make_member(org_a, "member")
    client = bearer(make_jwt(owner, org_a))
    listed = client.get(org_url(org_a, "members/")).json()["results"]
    assert {m["email"] for m in listed} >= {owner.email, member.email}
    membership = Membership.objects.get(organization=org_a, user=member)
    changed = client.patch(
        org_url(org_a, f"members/{membership.pk}/"), {"role": "admin"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["role"] == "admin"
    assert client.delete(org_url(org_a, f"members/{membership.pk}/")).status_code == 204
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_the_last_owner_cannot_be_removed_or_demoted(org_a, make_member, make_jwt, bearer):
    owner = make_member(org_a, "owner")
    client = bearer(make_jwt(owner, org_a))
    own = Membership.objects.get(organization=org_a, user=owner)
    demote = client.patch(org_url(org_a, f"members/{own.pk}/"), {"role": "admin"}, format="json")
    assert demote.status_code == 409 and demote.json()["error"]["code"] == "last_owner"
    assert client.delete(org_url(org_a, f"members/{own.pk}/")).status_code == 409


@pytest.mark.parametrize("role", ["viewer", "member", "admin"])
def test_only_owners_manage_members(org_a, make_member, make_jwt, bearer, role):
    user = make_member(org_a, role)
    client = bearer(make_jwt(user, org_a))
    assert client.get(org_url(org_a, "members/")).status_code == 200
    response = client.post(org_url(org_a, "members/"), {"email": "x@example.test"}, format="json")
    assert response.status_code == 403


def test_create_organization_command_prints_json_with_a_key(db, capsys):
    import json

    from django.core.management import call_command

    call_command(
        "create_organization",
        name="Acme",
        slug="acme-cmd",
        owner_email="owner@acme.test",
        api_key=True,
    )
    out = json.loads(capsys.readouterr().out)
    assert out["organization"]["slug"] == "acme-cmd"
    assert out["organization"]["domain"] == "acme-cmd.localhost"
    assert out["api_key"]["key"].startswith("va_live_")
    assert out["api_key"]["role"] == "owner"


@pytest.mark.parametrize(
    ("value", "stored"),
    [("+1 (415) 555-0100", "+14155550100"), ("+442079460958", "+442079460958"), ("", "")],
)
def test_the_default_caller_id_is_stored_in_e164(org_a, make_api_key, bearer, value, stored):
    response = bearer(make_api_key(org_a, "owner")).patch(
        org_url(org_a), {"default_caller_id": value}, format="json"
    )

    assert response.status_code == 200, response.json()
    org_a.refresh_from_db()
    assert org_a.default_caller_id == stored == response.json()["default_caller_id"]


@pytest.mark.parametrize("value", ["555-0100", "+1415555", "not a number", "+99 123"])
def test_a_default_caller_id_that_is_not_a_phone_number_is_refused(
    org_a, make_api_key, bearer, value
):
    response = bearer(make_api_key(org_a, "owner")).patch(
        org_url(org_a), {"default_caller_id": value}, format="json"
    )

    assert response.status_code == 400
    (message,) = response.json()["error"]["details"]["fields"]["default_caller_id"]
    assert "not a valid phone number in E.164 form" in message
    org_a.refresh_from_db()
    assert org_a.default_caller_id == ""


def test_the_platform_admin_refuses_a_caller_id_that_is_not_e164(org_a):
    from django.core.exceptions import ValidationError

    org_a.default_caller_id = "+1 415 555 0100"
    with pytest.raises(ValidationError) as info:
        org_a.full_clean()

    assert "+14155550100" in str(info.value)


def test_an_email_longer_than_the_column_is_a_400_not_a_500(org_a, make_api_key, bearer):
    response = bearer(make_api_key(org_a, "owner")).post(
        org_url(org_a, "members/"), {"email": "a" * 250 + "@example.test"}, format="json"
    )

    assert response.status_code == 400
    assert "email" in response.json()["error"]["details"]["fields"]
