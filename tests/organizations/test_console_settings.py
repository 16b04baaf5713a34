"""The organization's settings, members and invitations in its console (admin_console): the
same services and roles as the API, never another organization's people."""

import datetime as dt

import pytest
from django.core import mail

from organizations.models import Invitation, Membership, Role
from organizations.services import invitation_create

pytestmark = pytest.mark.django_db

HOST = {"HTTP_HOST": "alpha.localhost"}
SETTINGS = "/admin/organizations/organization/"
MEMBERS = "/admin/organizations/organization/members/"
INVITE = "/admin/organizations/organization/invitations/"


def _login(client, org, make_member, role):
    user = make_member(org, role)
    client.force_login(user)
    return user


def _settings_post(org, **changes):
    values = {
        "name": org.name,
        "industry": org.industry,
        "timezone": org.timezone,
        "default_caller_id": org.default_caller_id,
        "max_concurrent_calls": org.max_concurrent_calls,
        "default_region": org.default_region,
        "calling_window_start": org.calling_window_start.strftime("%H:%M"),
        "calling_window_end": org.calling_window_end.strftime("%H:%M"),
    }
    return values | changes


def test_an_owner_saves_the_settings_through_the_service(client, org_a, make_member):
    _login(client, org_a, make_member, "owner")
    page = client.get(SETTINGS, **HOST)
    assert page.status_code == 200 and b"data-save" in page.content

    response = client.post(
        SETTINGS,
        _settings_post(
            org_a,
            timezone="Europe/Paris",
            default_caller_id="+1 415 555 0100",
            max_concurrent_calls=3,
            calling_window_start="08:30",
        ),
        **HOST,
    )

    assert response.status_code == 302
    org_a.refresh_from_db()
    assert org_a.timezone == "Europe/Paris"
    assert org_a.default_caller_id == "+14155550100"  # normalised by the service, as the API's
    assert org_a.max_concurrent_calls == 3
    assert org_a.calling_window_start == dt.time(8, 30)


def test_the_services_refusal_is_shown_on_its_field(client, org_a, make_member):
    _login(client, org_a, make_member, "owner")

    response = client.post(
        SETTINGS, _settings_post(org_a, timezone="Mars/Olympus", default_caller_id="12"), **HOST
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert "IANA time zone" in " ".join(form.errors["timezone"])
    assert "default_caller_id" in form.errors
    assert b'id="id_timezone_errors"' in response.content
    org_a.refresh_from_db()
    assert org_a.timezone == "UTC"


@pytest.mark.parametrize("role", ["viewer", "member", "admin"])
def test_below_owner_the_pages_are_read_only(client, org_a, make_member, role):
    _login(client, org_a, make_member, role)
    other = make_member(org_a, "member")
    membership = Membership.objects.get(user=other)
    invitation, _ = invitation_create(
        organization=org_a, email="pending@example.test", role="viewer", invited_by=None
    )

    settings_page = client.get(SETTINGS, **HOST)
    members_page = client.get(MEMBERS, **HOST)

    assert settings_page.status_code == 200 and members_page.status_code == 200
    assert b"data-save" not in settings_page.content and b"data-readonly" in settings_page.content
    for marker in (b"data-change-role", b"data-remove", b"data-revoke", b"data-invite"):
        assert marker not in members_page.content
    assert b"pending@example.test" in members_page.content
    # And the writes themselves are refused.
    base = "/admin/organizations/organization/"
    for url, data in [
        (SETTINGS, _settings_post(org_a, timezone="Europe/Paris")),
        (f"{base}members/{membership.pk}/role/", {"role": "owner"}),
        (f"{base}members/{membership.pk}/remove/", {}),
        (f"{base}invitations/", {"email": "x@example.test", "role": "viewer"}),
        (f"{base}invitations/{invitation.pk}/revoke/", {}),
    ]:
        assert client.post(url, data, **HOST).status_code == 403, url
    org_a.refresh_from_db()
    membership.refresh_from_db()
    assert org_a.timezone == "UTC" and membership.role == "member"
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_an_owner_changes_a_role_and_removes_a_member(client, org_a, make_member):
    _login(client, org_a, make_member, "owner")
    member = make_member(org_a, "member", email="ada@example.test")
    membership = Membership.objects.get(user=member)

    client.post(f"{MEMBERS}{membership.pk}/role/", {"role": "admin"}, **HOST)
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    member.refresh_from_db()
    assert member.is_staff  # the service's rule, as through the API

    response = client.post(f"{MEMBERS}{membership.pk}/remove/", **HOST, follow=True)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert b"ada@example.test was removed" in response.content


def test_the_last_owner_can_neither_step_down_nor_be_removed(client, org_a, make_member):
    owner = _login(client, org_a, make_member, "owner")
    mine = Membership.objects.get(user=owner)

    demoted = client.post(f"{MEMBERS}{mine.pk}/role/", {"role": "viewer"}, **HOST, follow=True)
    removed = client.post(f"{MEMBERS}{mine.pk}/remove/", **HOST, follow=True)

    mine.refresh_from_db()
    assert mine.role == Role.OWNER
    assert b"at least one owner" in demoted.content and b"at least one owner" in removed.content


def test_an_owner_invites_someone_and_revokes_the_invitation(
    client, org_a, make_member, django_capture_on_commit_callbacks
):
    _login(client, org_a, make_member, "owner")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            INVITE,
            {"email": "Newbie@Example.test", "role": "admin"},
            **HOST,
            follow=True,
        )

    invitation = Invitation.objects.get(organization=org_a, email="newbie@example.test")
    assert invitation.role == Role.ADMIN
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["newbie@example.test"]
    assert b"Invitation sent to newbie@example.test" in response.content
    assert b'data-invitation="newbie@example.test"' in response.content

    revoked = client.post(
        f"/admin/organizations/organization/invitations/{invitation.pk}/revoke/",
        **HOST,
        follow=True,
    )
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    assert b'data-invitation="newbie@example.test"' not in revoked.content


def test_inviting_someone_with_an_account_adds_them_at_once(client, org_a, org_b, make_member):
    _login(client, org_a, make_member, "owner")
    elsewhere = make_member(org_b, "viewer", email="known@example.test")

    client.post(
        INVITE,
        {"email": "known@example.test", "role": "member"},
        **HOST,
    )

    assert Membership.objects.get(user=elsewhere, organization=org_a).role == Role.MEMBER
    assert not Invitation.objects.filter(email="known@example.test").exists()


def test_a_bad_invitation_is_shown_on_the_form(client, org_a, make_member):
    _login(client, org_a, make_member, "owner")

    response = client.post(
        INVITE,
        {"email": "not-an-email", "role": "member"},
        **HOST,
    )

    assert response.status_code == 200
    assert "email" in response.context["invite_form"].errors
    assert not Invitation.objects.filter(organization=org_a).exists()


def test_another_organizations_people_are_never_listed_nor_reachable(
    client, org_a, org_b, make_member
):
    _login(client, org_a, make_member, "owner")
    stranger = make_member(org_b, "owner", email="stranger@example.test")
    theirs = Membership.objects.get(user=stranger)
    their_invitation, _ = invitation_create(
        organization=org_b, email="their-guest@example.test", role="viewer", invited_by=None
    )

    page = client.get(MEMBERS, **HOST)
    assert b"stranger@example.test" not in page.content
    assert b"their-guest@example.test" not in page.content

    client.post(f"{MEMBERS}{theirs.pk}/role/", {"role": "viewer"}, **HOST)
    client.post(f"{MEMBERS}{theirs.pk}/remove/", **HOST)
    client.post(
        f"/admin/organizations/organization/invitations/{their_invitation.pk}/revoke/", **HOST
    )
    theirs.refresh_from_db()
    assert theirs.role == Role.OWNER
    assert Invitation.objects.filter(pk=their_invitation.pk).exists()


def test_the_sidebar_links_the_settings_page(client, org_a, make_member):
    _login(client, org_a, make_member, "viewer")
    page = client.get("/admin/", **HOST)
    assert SETTINGS.encode() in page.content
