"""The invitation page an invitation email links to (organizations.views): it shows the
invitation and accepts it for a signed-in user, an existing account or a new person."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from organizations.models import Membership, User
from organizations.services import invitation_create
from tests.organizations.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def invite(org_a, make_member, django_capture_on_commit_callbacks):
    """invite(email, role) -> the link of the emailed invitation, as the invitee gets it."""
    owner = make_member(org_a, "owner", full_name="Olive Owner")

    def make(email="guest@example.test", role="admin"):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            invitation_create(organization=org_a, email=email, role=role, invited_by=owner)
        (link,) = re.findall(r"http\S+/invitations/accept/\?token=\S+", mail.outbox[0].body)
        return link.removeprefix("http://localhost:8000")

    return make


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


def test_the_emailed_link_shows_the_organization_role_and_inviter(client, invite):
    response = client.get(invite())

    assert response.status_code == 200
    page = response.content.decode()
    assert "Join Alpha" in page
    assert "Olive Owner invites" in page and "guest@example.test" in page
    assert "as <strong>admin</strong>" in page
    assert response["Referrer-Policy"] == "no-referrer"
    assert 'name="password1"' in page  # a new person chooses a password


def test_a_new_person_sets_a_password_and_joins(org_a, client, invite):
    link = invite()

    response = client.post(
        "/invitations/accept/",
        {
            "token": token_of(link),
            "full_name": "Grace Guest",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 200, response.content.decode()
    assert "You joined Alpha" in response.content.decode()
    assert "http://alpha.localhost:8000/admin/" in response.content.decode()
    user = User.objects.get(email="guest@example.test")
    assert user.check_password(PASSWORD) and user.full_name == "Grace Guest"
    assert Membership.objects.get(organization=org_a, user=user).role == "admin"
    assert user.is_staff  # an admin role opens the organization's admin
    # The link is used up.
    assert client.get(link).status_code == 400


def test_a_weak_or_mistyped_password_is_explained_and_nothing_is_created(client, invite):
    token = token_of(invite())

    weak = client.post(
        "/invitations/accept/", {"token": token, "password1": "1234", "password2": "1234"}
    )
    mistyped = client.post(
        "/invitations/accept/", {"token": token, "password1": PASSWORD, "password2": PASSWORD + "!"}
    )

    assert weak.status_code == 200 and "too short" in weak.content.decode()
    assert "The two passwords differ." in mistyped.content.decode()
    assert not User.objects.filter(email="guest@example.test").exists()


def test_an_existing_account_accepts_with_its_password(org_a, client, invite):
    guest = UserFactory(email="guest@example.test")
    token = token_of(invite(role="viewer"))

    wrong = client.post("/invitations/accept/", {"token": token, "password": "nope"})
    right = client.post("/invitations/accept/", {"token": token, "password": PASSWORD})

    assert "That is not the password of guest@example.test." in wrong.content.decode()
    assert "You joined Alpha" in right.content.decode()
    assert Membership.objects.get(organization=org_a, user=guest).role == "viewer"


def test_a_signed_in_user_accepts_with_one_click(org_a, invite):
    guest = UserFactory(email="guest@example.test")
    client = Client()
    client.force_login(guest)
    link = invite()

    assert "You are signed in as guest@example.test." in client.get(link).content.decode()
    response = client.post("/invitations/accept/", {"token": token_of(link)})

    assert "You joined Alpha" in response.content.decode()
    assert Membership.objects.filter(organization=org_a, user=guest).exists()


def test_someone_signed_in_as_another_person_cannot_accept_it(org_a, invite):
    other = UserFactory(email="other@example.test")
    client = Client()
    client.force_login(other)
    token = token_of(invite())

    response = client.post("/invitations/accept/", {"token": token})

    assert "but this invitation is for guest@example.test" in response.content.decode()
    assert not Membership.objects.filter(organization=org_a, user=other).exists()


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 5000])
def test_an_unknown_token_is_a_clear_page(client, token):
    response = client.get("/invitations/accept/", {"token": token})

    assert response.status_code == 400
    assert "This invitation cannot be used" in response.content.decode()


def test_the_page_needs_its_csrf_token(invite):
    client = Client(enforce_csrf_checks=True)
    link = invite()

    response = client.post(
        "/invitations/accept/",
        {"token": token_of(link), "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 403
    assert not User.objects.filter(email="guest@example.test").exists()
