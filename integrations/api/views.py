"""/api/v1/credentials/: the organization's own provider accounts. Admins and owners only,
for reading too (the identifiers name the organization's accounts); secrets are write-only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations import selectors, services
from integrations.api.serializers import (
    CredentialCreateSerializer,
    CredentialSerializer,
    CredentialUpdateSerializer,
)
from integrations.models import ProviderCredential
from organizations.actors import request_api_key, request_user
from organizations.api.base import OrganizationModelViewSet
from organizations.models import Role
from voiceagents.api.schema import error_response

_PLACEHOLDER = "<the auth token>"


class CredentialViewSet(OrganizationModelViewSet):
    serializer_class = CredentialSerializer
    queryset = ProviderCredential.objects.none()  # for schema generation; get_queryset is real
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    ordering_fields = ["kind", "created_at", "last_used_at"]
    ordering = ["kind"]

    def get_queryset(self):
        return selectors.credential_list()

    def get_object(self) -> ProviderCredential:
        return selectors.credential_get(credential_id=self.kwargs["pk"])

    @extend_schema(
        summary="List provider credentials",
        description="Admins only. The organization's own carrier and AI provider accounts, one "
        "per kind. Secrets are never shown: only their last four characters.",
    )
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(
        summary="Get a provider credential",
        description="Admins only. Kind, label, identifiers, the secret's last four "
        "characters, the last verification and the times; never the secret.",
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(CredentialSerializer(self.get_object()).data)

    @extend_schema(
        summary="Add a provider credential",
        description="Admins only. From now on the organization's calls, numbers, realtime "
        "sessions and embeddings of this provider use this account instead of the "
        "platform's. One credential per kind (409 `credential_kind_taken`: change it with "
        "PATCH). The secret is stored encrypted and never shown again.",
        request=CredentialCreateSerializer,
        responses={
            201: CredentialSerializer,
            409: error_response("`credential_kind_taken`: the organization has one of this kind."),
        },
        examples=[
            OpenApiExample(
                "A Twilio account",
                value={
                    "kind": "twilio",
                    "label": "Production",
                    "identifiers": {"account_sid": "AC" + "0" * 32},
                    "secret": _PLACEHOLDER,
                },
                request_only=True,
            ),
            OpenApiExample(
                "A Hume account with its EVI config",
                value={
                    "kind": "hume",
                    "identifiers": {"config_id": "00000000-0000-4000-8000-000000000000"},
                    "secret": "<the API key>",
                },
                request_only=True,
            ),
        ],
    )
    def create(self, request: Request) -> Response:
        data = CredentialCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credential = services.credential_create(
            **data.validated_data,
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(CredentialSerializer(credential).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a provider credential",
        description="Admins only. A new `secret` rotates it (`rotated_at`); `identifiers` "
        "replaces all identifiers. Either makes the credential unverified again. The kind "
        "cannot change.",
        request=CredentialUpdateSerializer,
        responses=CredentialSerializer,
        examples=[
            OpenApiExample("Rotate the secret", value={"secret": _PLACEHOLDER}, request_only=True)
        ],
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        credential = self.get_object()
        data = CredentialUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        credential = services.credential_update(
            credential=credential,
            data=dict(data.validated_data),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(CredentialSerializer(credential).data)

    @extend_schema(
        summary="Remove a provider credential",
        description="Admins only. The organization falls back to the platform's account for "
        "this provider, where the platform allows it, or has none.",
        responses={204: None},
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.credential_delete(
            credential=self.get_object(),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Verify a provider credential",
        description="Admins only. One cheap read call to the provider with this credential "
        "(Twilio or Plivo: the account; OpenAI or Gemini: the model list; Hume: the EVI "
        "config). The answer is the credential with `verification` updated: `ok`, or "
        "`failed` with what the provider said (its status and error code).",
        request=None,
        responses=CredentialSerializer,
    )
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        credential = services.credential_verify(
            credential=self.get_object(),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(CredentialSerializer(credential).data)
