import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from organizations.models import Domain, Organization

pytestmark = pytest.mark.django_db


def _tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def test_each_organization_gets_its_own_schema_and_domain(org_a, org_b):
    assert org_a.schema_name != org_b.schema_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN (%s, %s)",
            [org_a.schema_name, org_b.schema_name],
        )
        assert {row[0] for row in cursor.fetchall()} == {org_a.schema_name, org_b.schema_name}
    assert Domain.objects.get(tenant=org_a).domain == "alpha.localhost"


def test_public_tenant_exists_from_the_first_migrate():
    public = Organization.objects.get(schema_name="public")
    assert Domain.objects.filter(tenant=public, is_primary=True).exists()


def _tables_of_apps(app_names: list[str]) -> set[str]:
    tables = set()
    for app_name in app_names:
        config = next(c for c in apps.get_app_configs() if c.name == app_name)
        for model in config.get_models(include_auto_created=True):
            if model._meta.managed and not model._meta.proxy:
                tables.add(model._meta.db_table)
    return tables


def test_tenant_tables_live_in_tenant_schemas_not_public(org_a):
    tenant_only = [app for app in settings.TENANT_APPS if app not in settings.SHARED_APPS]
    tenant_tables = _tables_of_apps(tenant_only)
    assert {"agents_agent", "calls_call", "knowledge_document"} <= tenant_tables  # sanity

    public_tables = _tables_in("public")
    org_tables = _tables_in(org_a.schema_name)

    assert tenant_tables <= org_tables, tenant_tables - org_tables
    assert not tenant_tables & public_tables, tenant_tables & public_tables
    # And the other way round: identity and tenancy tables exist only in public.
    assert "organizations_organization" in public_tables
    assert "organizations_organization" not in org_tables
    assert "django_migrations" in org_tables


def test_a_tenant_row_is_not_reachable_from_the_public_schema(org_a):
    from tests.agents.factories import AgentFactory

    with tenant_context(org_a):
        AgentFactory(name="Alpha only")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM agents_agent WHERE name = 'Alpha only'")
            assert cursor.fetchone()[0] == 1
    with schema_context("public"), connection.cursor() as cursor:
        # Not hidden by a filter: the public search_path has no such table at all.
        cursor.execute("SELECT to_regclass('agents_agent')")
        assert cursor.fetchone()[0] is None


def test_pgvector_is_installed_once_in_public_and_usable_from_a_tenant(org_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'vector'"
        )
        assert cursor.fetchone()[0] == "public"
    with tenant_context(org_a), connection.cursor() as cursor:
        cursor.execute("SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector")
        assert cursor.fetchone()[0] >= 0


def test_a_row_created_in_one_organization_is_invisible_in_the_other(org_a, org_b):
    # A scratch table created through each tenant's search_path lands in that tenant's schema.
    for org in (org_a, org_b):
        with tenant_context(org), connection.cursor() as cursor:
            cursor.execute("CREATE TABLE scratch_note (id serial primary key, body text)")
    with tenant_context(org_a), connection.cursor() as cursor:
        cursor.execute("INSERT INTO scratch_note (body) VALUES ('alpha secret')")
    with tenant_context(org_b), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM scratch_note")
        assert cursor.fetchone()[0] == 0
    with tenant_context(org_a), connection.cursor() as cursor:
        cursor.execute("SELECT body FROM scratch_note")
        assert cursor.fetchall() == [("alpha secret",)]
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.scratch_note')")
        assert cursor.fetchone()[0] is None
