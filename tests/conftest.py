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
from django.db import connection
from django_tenants.utils import schema_context, tenant_context
from rest_framework.test import APIClient

from organizations.models import Organization
from organizations.services import organization_create

TEST_TENANTS = ("alpha", "beta")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        for slug in TEST_TENANTS:
            if not Organization.objects.filter(slug=slug).exists():
                organization_create(name=slug.title(), slug=slug, industry="testing")
        connection.set_schema_to_public()
    yield


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
