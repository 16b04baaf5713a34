"""Provider credentials in the tenant-isolation contract (tests/isolation.py)."""

from tests.isolation import Resource, register


def _credential_create(org):
    from integrations.services import credential_create

    return credential_create(kind="openai", secret="sk-isolation-0123456789", label="B's").pk


def _credential_snapshot(org, pk):
    from integrations.models import ProviderCredential

    row = ProviderCredential.objects.filter(pk=pk).values("label", "secret_last_four").first()
    return row


register(
    Resource(
        name="credential",
        create=_credential_create,
        list_url=lambda org: "/api/v1/credentials/",
        detail_url=lambda org, pk: f"/api/v1/credentials/{pk}/",
        update_payload={"label": "Taken over", "secret": "sk-attacker-0123456789"},
        snapshot=_credential_snapshot,
        actions=lambda org, pk: [("post", f"/api/v1/credentials/{pk}/verify/", {})],
    )
)


# --- tools: integrations, custom tools, executions ------------------------------------------------


def _integration_create(org):
    from integrations.tool_services import integration_create

    # A server on a public name that is never reached: no action here connects to it (the
    # other organization is refused first).
    return integration_create(
        data={
            "kind": "custom",
            "name": "B's CRM",
            "slug": "crm",
            "url": "https://mcp.example.com/mcp",
            "auth_token": "tok-isolation-0123456789",
        }
    ).pk


def _integration_snapshot(org, pk):
    from integrations.models import Integration

    return Integration.objects.filter(pk=pk).values("name", "url", "enabled_tools").first()


def _custom_tool_create(org):
    from integrations.tool_services import custom_tool_create

    tool, _secret = custom_tool_create(
        data={"name": "b_tool", "url": "https://tools.example.com/b"}
    )
    return tool.pk


def _custom_tool_snapshot(org, pk):
    from integrations.models import CustomTool

    return (
        CustomTool.objects.filter(pk=pk).values("name", "url", "signing_secret_last_four").first()
    )


def _tool_execution_create(org):
    from integrations.tool_execution import tool_execution_record

    return tool_execution_record(
        source="api", server="crm", tool="lookup", arguments={"q": "b"}, result={"ok": True}
    ).pk


register(
    Resource(
        name="integration",
        create=_integration_create,
        list_url=lambda org: "/api/v1/integrations/",
        detail_url=lambda org, pk: f"/api/v1/integrations/{pk}/",
        update_payload={"name": "Taken over", "url": "https://attacker.example.com/mcp"},
        snapshot=_integration_snapshot,
        actions=lambda org, pk: [
            ("get", f"/api/v1/integrations/{pk}/tools/", None),
            ("get", f"/api/v1/integrations/{pk}/tools/?refresh=1", None),
            ("post", f"/api/v1/integrations/{pk}/tools/lookup/execute/", {"arguments": {}}),
        ],
    )
)
register(
    Resource(
        name="custom_tool",
        create=_custom_tool_create,
        list_url=lambda org: "/api/v1/custom-tools/",
        detail_url=lambda org, pk: f"/api/v1/custom-tools/{pk}/",
        update_payload={"url": "https://attacker.example.com/x", "rotate_signing_secret": True},
        snapshot=_custom_tool_snapshot,
        actions=lambda org, pk: [
            ("post", f"/api/v1/custom-tools/{pk}/execute/", {"arguments": {}}),
        ],
    )
)
register(
    Resource(
        name="tool_execution",
        create=_tool_execution_create,
        list_url=lambda org: "/api/v1/tool-executions/",
        detail_url=lambda org, pk: f"/api/v1/tool-executions/{pk}/",
        can_delete=False,
    )
)

# Webhook endpoints and deliveries register themselves from their own module.
import tests.integrations.webhook_isolation  # noqa: E402, F401
