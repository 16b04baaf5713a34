"""A change made on an admin page is saved: the admin's form writes its values onto the object
before the service sees it, so each admin hands the service the stored row to compare with
(an integration renamed, a custom tool's description, a credential's label; audited)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from integrations.models import CustomTool, Integration, ProviderCredential
from organizations.models import AuditEvent
from tests.integrations.conftest import token
from tests.integrations.tool_support import make_custom_tool, make_integration

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


@pytest.fixture
def admin_client(org_a, make_member):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "admin"))
    return client


def test_an_integration_changed_in_the_admin_is_saved(org_a, admin_client, telegram_mcp):
    integration = make_integration(org_a, telegram_mcp, list_tools=False)

    page = admin_client.post(
        f"/admin/integrations/integration/{integration.pk}/change/",
        {
            "name": "Renamed",
            "slug": integration.slug,
            "url": integration.url,
            "transport": integration.transport,
            "enabled": "on",
            "timeout_seconds": "7",
            "enabled_tools_text": "",
        },
    )

    assert page.status_code == 302, page.content.decode()[:3000]
    with tenant_context(org_a):
        integration = Integration.objects.get(pk=integration.pk)
        assert AuditEvent.objects.filter(target_type="integration", action__endswith="updated")
    assert (integration.name, integration.timeout_seconds) == ("Renamed", 7)


def test_a_custom_tool_changed_in_the_admin_is_saved(org_a, admin_client, tool_endpoint):
    tool, _secret = make_custom_tool(org_a, tool_endpoint)

    page = admin_client.post(
        f"/admin/integrations/customtool/{tool.pk}/change/",
        {
            "name": tool.name,
            "description": "Book a slot, in the morning only.",
            "parameters_text": '{"type": "object", "properties": {"day": {"type": "string"}}}',
            "url": tool.url,
            "timeout_seconds": "4",
            "enabled": "on",
        },
    )

    assert page.status_code == 302, page.content.decode()[:3000]
    with tenant_context(org_a):
        tool = CustomTool.objects.get(pk=tool.pk)
    assert tool.description == "Book a slot, in the morning only."
    assert tool.timeout_seconds == 4


def test_a_credentials_label_changed_in_the_admin_is_saved(org_a, admin_client, make_credential):
    credential = make_credential(org_a, "openai", token(), label="Old")

    page = admin_client.post(
        f"/admin/integrations/providercredential/{credential.pk}/change/",
        {"label": "Production", "account_sid": "", "auth_id": "", "config_id": ""},
    )

    assert page.status_code == 302, page.content.decode()[:3000]
    with tenant_context(org_a):
        credential = ProviderCredential.objects.get(pk=credential.pk)
        audited = AuditEvent.objects.filter(action="credential.updated").exists()
    assert credential.label == "Production" and audited
