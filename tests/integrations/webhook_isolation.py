"""Webhook endpoints and their deliveries in the tenant-isolation contract (tests/isolation.py):
another organization's endpoint or delivery is a 404 everywhere, and nothing of it changes."""

from tests.isolation import Resource, register


def _endpoint_create(org):
    from integrations.webhook_services import webhook_endpoint_create

    # A public name never reached: every action is refused before any request is made.
    endpoint, _secret = webhook_endpoint_create(
        data={"url": "https://hooks.example.com/b", "event_types": ["call.ended"]}
    )
    return endpoint.pk


def _endpoint_snapshot(org, pk):
    from integrations.webhook_models import WebhookEndpoint

    return (
        WebhookEndpoint.objects.filter(pk=pk)
        .values("url", "event_types", "enabled", "signing_secret_last_four")
        .first()
    )


def _delivery_create(org):
    from integrations.webhook_models import WebhookDelivery, WebhookEvent

    endpoint_pk = _endpoint_create(org)
    event = WebhookEvent.objects.create(type="call.ended", payload={"call": {"id": 1}})
    return WebhookDelivery.objects.create(event=event, endpoint_id=endpoint_pk).pk


def _delivery_snapshot(org, pk):
    from integrations.webhook_models import WebhookDelivery

    delivery = WebhookDelivery.objects.filter(pk=pk).values("status", "attempt_count").first()
    attempts = WebhookDelivery.objects.filter(pk=pk).values_list("attempts__id", flat=True)
    return delivery, sorted(a for a in attempts if a is not None)


register(
    Resource(
        name="webhook_endpoint",
        create=_endpoint_create,
        list_url=lambda org: "/api/v1/webhooks/",
        detail_url=lambda org, pk: f"/api/v1/webhooks/{pk}/",
        update_payload={"url": "https://attacker.example.com/", "event_types": ["call.started"]},
        snapshot=_endpoint_snapshot,
        actions=lambda org, pk: [
            ("post", f"/api/v1/webhooks/{pk}/rotate-secret/", {}),
            ("post", f"/api/v1/webhooks/{pk}/test/", {}),
            ("get", f"/api/v1/webhooks/{pk}/deliveries/", {}),
        ],
    )
)

register(
    Resource(
        name="webhook_delivery",
        create=_delivery_create,
        list_url=None,
        detail_url=lambda org, pk: f"/api/v1/webhook-deliveries/{pk}/",
        can_delete=False,
        snapshot=_delivery_snapshot,
        actions=lambda org, pk: [("post", f"/api/v1/webhook-deliveries/{pk}/redeliver/", {})],
    )
)
