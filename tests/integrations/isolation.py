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
