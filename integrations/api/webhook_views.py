"""/api/v1/webhooks/ and /api/v1/webhook-deliveries/: the organization's webhook endpoints,
the log of what was delivered to them, redelivery and the test ping.

Admins and owners only, reading included (as for credentials): the delivery log holds call
transcripts and an endpoint's URL may carry a receiver's token. The signing secret is shown
once, in the answer that made it.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations import webhook_selectors, webhook_services
from integrations.api.webhook_serializers import (
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWriteSerializer,
)
from integrations.webhook_filtersets import WebhookDeliveryFilterSet
from integrations.webhook_models import WebhookDelivery, WebhookEndpoint
from organizations.actors import request_api_key, request_user
from organizations.api.base import OrganizationModelViewSet, OrganizationScopedViewSet
from organizations.models import Role
from voiceagents.api.schema import error_response

__all__ = ["WebhookDeliveryViewSet", "WebhookEndpointViewSet"]


def _write_data(request: Request, *, partial: bool) -> dict[str, object]:
    data = WebhookEndpointWriteSerializer(data=request.data, partial=partial)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class WebhookEndpointViewSet(OrganizationModelViewSet):
    serializer_class = WebhookEndpointSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    @property
    def filterset_class(self):
        return WebhookDeliveryFilterSet if getattr(self, "action", None) == "deliveries" else None

    # The endpoints' ordering would otherwise reorder the deliveries log oldest first.
    @property
    def ordering_fields(self) -> list[str]:
        deliveries = getattr(self, "action", None) == "deliveries"
        return ["created_at"] if deliveries else ["created_at", "url"]

    @property
    def ordering(self) -> list[str]:
        deliveries = getattr(self, "action", None) == "deliveries"
        return ["-created_at", "-id"] if deliveries else ["created_at"]

    def get_queryset(self):
        if getattr(self, "action", None) == "deliveries":
            return WebhookDelivery.objects.none()
        return webhook_selectors.webhook_endpoint_list()

    def get_object(self) -> WebhookEndpoint:
        return webhook_selectors.webhook_endpoint_get(endpoint_id=self.kwargs["pk"])

    @extend_schema(
        summary="List webhook endpoints",
        description="Admins only. The organization's endpoints: URL, subscribed events, "
        "enabled or disabled (and why), failures in a row. Never the signing secret.",
    )
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(
        summary="Get a webhook endpoint",
        description="Admins only. One endpoint, with the last four characters of its secret.",
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(WebhookEndpointSerializer(self.get_object()).data)

    @extend_schema(
        summary="Add a webhook endpoint",
        description="Admins only. An https:// URL that hears about the events it subscribes "
        "to, each request signed in `X-Voiceagents-Signature` with the `signing_secret` this "
        "answer shows once (see Webhooks in the API guide for the events and the check).",
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
        examples=[
            OpenApiExample(
                "Every call's end",
                value={
                    "url": "https://example.com/hooks/voiceagents",
                    "event_types": ["call.ended", "call.failed"],
                },
                request_only=True,
            )
        ],
    )
    def create(self, request: Request) -> Response:
        endpoint, secret = webhook_services.webhook_endpoint_create(
            data=_write_data(request, partial=False),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        body = WebhookEndpointCreatedSerializer(endpoint, context={"signing_secret": secret}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a webhook endpoint",
        description="Admins only. `event_types` replaces the subscriptions; `enabled: true` on "
        "a disabled endpoint starts its failure count afresh.",
        request=WebhookEndpointWriteSerializer,
        responses={200: WebhookEndpointSerializer},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        endpoint = webhook_services.webhook_endpoint_update(
            endpoint=self.get_object(),
            data=_write_data(request, partial=True),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Remove a webhook endpoint",
        description="Admins only. Its deliveries and their attempts go with it.",
        responses={204: None},
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        webhook_services.webhook_endpoint_delete(
            endpoint=self.get_object(),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate a webhook endpoint's signing secret",
        description="Admins only. A new secret, shown in this answer once; the old one stops "
        "signing at once (deliveries in flight are signed with the new one).",
        request=None,
        responses={200: WebhookEndpointCreatedSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        endpoint, secret = webhook_services.webhook_endpoint_rotate_secret(
            endpoint=self.get_object(),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(
            WebhookEndpointCreatedSerializer(endpoint, context={"signing_secret": secret}).data
        )

    @extend_schema(
        summary="Send a test event to a webhook endpoint",
        description="Admins only. Sends a signed `ping` event now (one attempt, whether the "
        "endpoint is enabled or not, whatever it subscribes to) and answers its delivery "
        "with the attempt: status code, latency, the start of the answer or the error.",
        request=None,
        responses={200: WebhookDeliverySerializer},
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        delivery = webhook_services.webhook_endpoint_test(
            endpoint=self.get_object(),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        delivery = webhook_selectors.webhook_delivery_get(delivery_id=delivery.pk)
        return Response(WebhookDeliverySerializer(delivery).data)

    @extend_schema(
        summary="List a webhook endpoint's deliveries",
        description="Admins only. Newest first (paginated): the event (id, type, payload), "
        "the delivery's status (`pending` while being tried, `succeeded`, `failed` once the "
        "attempts ran out) and every attempt. Filter by `status`, `event_type`, `event_id`, "
        "`created_after` / `created_before`.",
        responses=WebhookDeliverySerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        deliveries = self.filter_queryset(
            webhook_selectors.webhook_delivery_list(endpoint=endpoint)
        )
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookDeliveryViewSet(OrganizationScopedViewSet, mixins.RetrieveModelMixin):
    serializer_class = WebhookDeliverySerializer
    queryset = WebhookDelivery.objects.none()
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    def get_queryset(self):
        return webhook_selectors.webhook_delivery_list()

    def get_object(self) -> WebhookDelivery:
        return webhook_selectors.webhook_delivery_get(delivery_id=self.kwargs["pk"])

    @extend_schema(
        summary="Get a webhook delivery",
        description="Admins only. One event's delivery to one endpoint, with every attempt.",
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(WebhookDeliverySerializer(self.get_object()).data)

    @extend_schema(
        summary="Redeliver a webhook event",
        description="Admins only. Sends the delivery's event once more (the same event id, a "
        "fresh signature), whatever its status, shortly after this answer; the attempt joins "
        "the delivery's log.",
        request=None,
        responses={
            202: WebhookDeliverySerializer,
            404: error_response("`webhook_delivery_not_found`."),
        },
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str | None = None) -> Response:
        delivery = webhook_services.webhook_delivery_redeliver(
            delivery=self.get_object(),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
