"""The admin: operators see only their own organization at its domain; superusers manage
organizations from the main host."""

import pytest

from organizations.services import api_key_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _login(client, host, user):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": user.email, "password": PASSWORD},
        HTTP_HOST=host,
    )


def test_an_operator_sees_only_their_organization_at_its_domain(client, org_a, org_b, make_member):
    admin = make_member(org_a, "admin")
    api_key_create(organization=org_a, name="alpha-ci", role="viewer")
    api_key_create(organization=org_b, name="beta-secret", role="viewer")
    assert _login(client, "alpha.localhost", admin).status_code == 302
    keys = client.get("/admin/organizations/apikey/", HTTP_HOST="alpha.localhost")
    assert keys.status_code == 200
    assert b"alpha-ci" in keys.content and b"beta-secret" not in keys.content


def test_an_operator_cannot_log_in_at_another_organizations_domain(
    client, org_a, org_b, make_member
):
    admin = make_member(org_a, "owner")
    response = _login(client, "beta.localhost", admin)
    assert response.status_code == 200  # the form again, with the reason
    assert b"not a member of this organization" in response.content
    assert client.get("/admin/", HTTP_HOST="beta.localhost").status_code == 302


def test_a_viewer_reads_but_cannot_change_in_the_admin(client, org_a, make_member):
    viewer = make_member(org_a, "viewer")
    _login(client, "alpha.localhost", viewer)
    assert client.get("/admin/agents/agent/", HTTP_HOST="alpha.localhost").status_code == 200
    assert client.get("/admin/agents/agent/add/", HTTP_HOST="alpha.localhost").status_code == 403


def test_only_superusers_use_the_platform_admin(client, org_a, make_member):
    from tests.organizations.factories import UserFactory

    operator = make_member(org_a, "owner")
    _login(client, "localhost", operator)
    assert (
        client.get("/admin/organizations/organization/", HTTP_HOST="localhost").status_code == 302
    )
    root = UserFactory(is_superuser=True, is_staff=True)
    client.logout()
    _login(client, "localhost", root)
    listing = client.get("/admin/organizations/organization/", HTTP_HOST="localhost")
    assert listing.status_code == 200
    assert b"Alpha" in listing.content and b"Beta" in listing.content


def test_an_organization_member_at_the_platform_admin_is_told_where_to_sign_in(
    client, org_a, make_member
):
    operator = make_member(org_a, "owner")

    response = _login(client, "localhost", operator)

    assert response.status_code == 200  # the form again, with the reason
    page = response.content.decode()
    assert "This account is not a platform administrator" in page
    assert "http://alpha.localhost:8000/admin/" in page
    assert "enter the correct" not in page


def test_a_wrong_password_at_the_platform_admin_reveals_nothing_more(client, org_a, make_member):
    operator = make_member(org_a, "owner")

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": operator.email, "password": "wrong"},
        HTTP_HOST="localhost",
    )

    page = response.content.decode()
    assert "enter the correct" in page
    assert "platform administrator" not in page and "alpha.localhost" not in page


def test_createsuperuser_makes_a_platform_administrator(client, db, monkeypatch):
    # What the README tells an operator to run.
    from django.core.management import call_command

    from organizations.models import User

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", "--noinput", "--email", "root@example.test", verbosity=0)

    root = User.objects.get(email="root@example.test")
    assert root.is_superuser and root.is_staff
    assert _login(client, "localhost", root).status_code == 302
    assert (
        client.get("/admin/organizations/organization/", HTTP_HOST="localhost").status_code == 200
    )
