"""Test setup shared by the whole suite.

The public tenant comes from the migrations; two organizations, ``alpha`` and ``beta``, are
created once per session (schema + migrations) instead of once per test class as
TenantTestCase would, which keeps the suite fast. Ordinary tests run inside a transaction that
is rolled back; tests that cross threads (Channels consumers, database_sync_to_async) use the
``committed_db`` fixture, which commits for real and cleans the tenant schemas afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, tenant_context
from rest_framework.test import APIClient

from organizations.models import Organization
from organizations.services import organization_create

TEST_TENANTS = ("alpha", "beta")

# No connection pool in tests: tests that cross threads open connections from executor
# threads, and pooled ones would stay open and block dropping the test database at the end.
settings.DATABASES["default"]["OPTIONS"].pop("pool", None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        for slug in TEST_TENANTS:
            if not Organization.objects.filter(slug=slug).exists():
                organization_create(name=slug.title(), slug=slug, industry="testing")
        connection.set_schema_to_public()
    yield


@pytest.fixture(scope="session", autouse=True)
def _isolated_redis_cache():
    """Tests use their own Redis database and a per-run key prefix for the cache (throttle
    counters, cached configs), so they neither see a dev server's entries nor another test
    run's; every entry has a timeout, so nothing piles up."""
    import os

    from django.test import override_settings

    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": settings_redis_db(15),
                "KEY_PREFIX": f"va-test-{os.getpid()}",
                "KEY_FUNCTION": "django_tenants.cache.make_key",
                "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
                "TIMEOUT": 600,
            }
        }
    ):
        yield


def settings_redis_db(db: int) -> str:
    from django.conf import settings

    base = settings.REDIS_URL.rsplit("/", 1)[0]
    return f"{base}/{db}"


@pytest.fixture(autouse=True)
def _public_schema_after_each_test() -> Iterator[None]:
    yield
    connection.set_schema_to_public()


@pytest.fixture
def org_a(db) -> Organization:
    return Organization.objects.get(slug="alpha")


@pytest.fixture
def org_b(db) -> Organization:
    return Organization.objects.get(slug="beta")


@pytest.fixture
def in_org_a(org_a) -> Iterator[Organization]:
    """Run the test body with alpha's schema active."""
    with tenant_context(org_a):
        yield org_a


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def public_schema():
    with schema_context("public"):
        yield


# --- credentials --------------------------------------------------------------------------------

JWT_SECRET = "test-supabase-jwt-secret-of-sufficient-length"


@pytest.fixture
def make_member(db):
    """make_member(org, role) -> a user with that role in org."""
    from organizations.models import Membership
    from tests.organizations.factories import UserFactory

    def make(org, role="member", **user_fields):
        user = UserFactory(**user_fields)
        Membership.objects.create(user=user, organization=org, role=role)
        return user

    return make


@pytest.fixture
def make_api_key(db):
    """make_api_key(org, role) -> the raw key."""
    from organizations.services import api_key_create

    def make(org, role="owner", **kwargs):
        _key, raw = api_key_create(organization=org, name=f"{role} key", role=role, **kwargs)
        return raw

    return make


@pytest.fixture
def make_jwt(settings):
    """make_jwt(user, org=None, **claims) -> an HS256 Supabase-style access token."""
    import time

    import jwt as pyjwt

    settings.SUPABASE_JWT_SECRET = JWT_SECRET

    def make(user, org=None, *, expires_in=3600, secret=JWT_SECRET, **claims):
        payload = {
            "sub": user.external_id or f"sub-{user.pk}",
            "email": user.email,
            "aud": "authenticated",
            "role": "authenticated",
            "exp": int(time.time()) + expires_in,
            "iat": int(time.time()),
        }
        if org is not None:
            payload["app_metadata"] = {"org_id": org.pk}
        payload.update(claims)
        return pyjwt.encode(payload, secret, algorithm="HS256")

    return make


@pytest.fixture
def bearer():
    """bearer(token, host=None) -> an APIClient sending that credential (to that host)."""

    def make(token, host=None):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        if host:
            client.defaults["SERVER_NAME"] = host
            client.defaults["HTTP_HOST"] = host
        return client

    return make


# --- committed data (for tests that cross threads or processes) -----------------------------------


def _truncate_tenant_data() -> None:
    """Empty every product table of the test organizations (their schemas stay)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' "
            "AND table_name <> 'django_migrations'",
            [[f"org_{slug}" for slug in TEST_TENANTS]],
        )
        tables = [f'"{schema}"."{name}"' for schema, name in cursor.fetchall()]
        if tables:
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    # ...and their rows in the public schema (audit events, keys, members, number claims, the
    # schedule index, extra domains).
    from organizations.models import (
        ApiKey,
        AuditEvent,
        Domain,
        Invitation,
        Membership,
        PhoneNumberClaim,
        ScheduleIndexEntry,
    )

    orgs = Organization.objects.filter(slug__in=TEST_TENANTS)
    for model in (AuditEvent, ApiKey, Invitation, Membership, PhoneNumberClaim, ScheduleIndexEntry):
        model.objects.filter(organization__in=orgs).delete()
    Domain.objects.filter(tenant__in=orgs, is_primary=False).delete()


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
    """Database access without the test transaction: rows are committed, so other threads and
    processes (daphne, consumers, Celery) see them. Tenant data is removed afterwards; the
    public schema's session fixtures stay."""
    with django_db_blocker.unblock():
        # Never truncate a real database: this fixture must run on the test database.
        assert connection.settings_dict["NAME"].startswith("test_"), connection.settings_dict
        connection.set_schema_to_public()
        yield
        connection.set_schema_to_public()
        _truncate_tenant_data()
