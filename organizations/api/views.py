from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from organizations import selectors, services
from organizations.actors import request_person, request_user
from organizations.api import schema  # noqa: F401  (registers the auth schemes)
from organizations.api.base import OrganizationAPIView, OrganizationScopedViewSet
from organizations.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuditEventSerializer,
    InvitationAcceptSerializer,
    InvitationSentSerializer,
    InvitationSerializer,
    MemberAddSerializer,
    MembershipSerializer,
    MemberUpdateSerializer,
    OrganizationCreateSerializer,
    OrganizationSerializer,
    OrganizationUpdateSerializer,
)
from organizations.models import ApiKey, AuditEvent, Organization, Role, User
from voiceagents.api.schema import error_response

_LAST_OWNER = error_response("`last_owner`: the organization must keep at least one owner.")


# An organization's agents (/organizations/{id}/agents/) are served by the agents app, so this
# app needs to know nothing of agents.
class OrganizationViewSet(OrganizationScopedViewSet):
    """The organizations you belong to and their members. Anyone signed in may create one;
    viewers read it, owners change its settings and members."""

    serializer_class = OrganizationSerializer
    queryset = Organization.objects.none()
    write_role = Role.OWNER
    action_roles = {
        "list": None,
        "create": None,
        "members": Role.VIEWER,
        "member_detail": Role.VIEWER,
    }

    def get_queryset(self):
        if self.request.organization is not None and not isinstance(self.request.user, User):
            return Organization.objects.filter(pk=self.request.organization.pk)
        return selectors.organization_list_for_user(user=request_person(self.request)).order_by(
            "name"
        )

    @extend_schema(
        summary="List your organizations",
        description="The organizations the caller belongs to, by name. An API key sees only "
        "its own organization.",
    )
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(OrganizationSerializer(page, many=True).data)

    @extend_schema(
        summary="Create an organization",
        description="Creates an organization with its own isolated data and domain "
        "(`<slug>.<base domain>`), and makes the caller its owner. Only a person can do this "
        "(a Supabase JWT); an API key is refused with 403. Without a `slug`, one is made from "
        "the name.",
        request=OrganizationCreateSerializer,
        responses={
            201: OrganizationSerializer,
            409: error_response("`slug_taken`: another organization has this slug."),
        },
        examples=[
            OpenApiExample(
                "An organization",
                value={"name": "Acme Dental", "industry": "healthcare", "timezone": "Europe/Paris"},
                request_only=True,
            )
        ],
    )
    def create(self, request):
        user = request_person(request)
        data = OrganizationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        org = services.organization_create(
            name=values["name"],
            slug=values.get("slug"),
            industry=values.get("industry", ""),
            timezone_name=values.get("timezone", "UTC"),
            owner=user,
        )
        return Response(OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Get an organization",
        description="Its settings: name, slug, domain, time zone, default caller id, "
        "concurrent-call limit and calling window. Only the organization the credential acts "
        "for can be read; any other id answers 404.",
    )
    def retrieve(self, request, pk=None):
        org = selectors.organization_get(organization_id=pk, visible_to=self.organization)
        return Response(OrganizationSerializer(org).data)

    @extend_schema(
        summary="Change an organization's settings",
        description="Owners only; send just the fields to change. The calling window bounds "
        "when outbound calls may start, in the organization's time zone; "
        "`max_concurrent_calls` caps the calls in progress at once.",
        request=OrganizationUpdateSerializer,
        responses=OrganizationSerializer,
        examples=[
            OpenApiExample(
                "A calling window",
                value={"calling_window_start": "09:00", "calling_window_end": "18:30"},
                request_only=True,
            )
        ],
    )
    def partial_update(self, request, pk=None):
        org = selectors.organization_get(organization_id=pk, visible_to=self.organization)
        data = OrganizationUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        org = services.organization_update(organization=org, data=dict(data.validated_data))
        return Response(OrganizationSerializer(org).data)

    @extend_schema(
        methods=["GET"],
        summary="List members",
        description="The people with a role in the organization.",
        responses=MembershipSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a member",
        description="Owners only. Someone who already has an account joins at once (201, the "
        "membership; an existing member gets the new role). Anyone else is emailed an "
        "invitation to accept (202), valid for 72 hours by default.",
        request=MemberAddSerializer,
        responses={
            201: MembershipSerializer,
            202: InvitationSentSerializer,
            409: _LAST_OWNER,
        },
        examples=[
            OpenApiExample(
                "An admin",
                value={"email": "ada@example.com", "role": "admin"},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get", "post"])
    def members(self, request, pk=None):
        org = selectors.organization_get(organization_id=pk, visible_to=self.organization)
        if request.method == "GET":
            page = self.paginate_queryset(selectors.membership_list(organization=org))
            return self.get_paginated_response(MembershipSerializer(page, many=True).data)
        self._require_owner(request)
        data = MemberAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email, role = data.validated_data["email"], data.validated_data["role"]
        existing = User.objects.filter(email__iexact=email).first()
        if existing is not None:
            membership = services.member_add(organization=org, user=existing, role=role)
            return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)
        # Unknown people are invited: they prove they own the address by accepting.
        invitation, _token = services.invitation_create(
            organization=org,
            email=email,
            role=role,
            invited_by=request_user(request),
        )
        return Response(
            {"invitation": InvitationSerializer(invitation).data}, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        methods=["GET"],
        summary="Get a member",
        description="One membership: the person's email, name and role.",
        responses=MembershipSerializer,
    )
    @extend_schema(
        methods=["PATCH"],
        summary="Change a member's role",
        description="Owners only. The last owner cannot be demoted (409).",
        request=MemberUpdateSerializer,
        responses={200: MembershipSerializer, 409: _LAST_OWNER},
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Remove a member",
        description="Owners only. The person loses access to the organization; their account "
        "stays. The last owner cannot be removed (409).",
        responses={204: None, 409: _LAST_OWNER},
    )
    @action(detail=True, methods=["get", "patch", "delete"], url_path=r"members/(?P<member_id>\d+)")
    def member_detail(self, request, pk=None, member_id=None):
        org = selectors.organization_get(organization_id=pk, visible_to=self.organization)
        membership = selectors.membership_get(organization=org, membership_id=member_id)
        if request.method == "GET":
            return Response(MembershipSerializer(membership).data)
        self._require_owner(request)
        if request.method == "DELETE":
            services.member_remove(membership=membership)
            return Response(status=status.HTTP_204_NO_CONTENT)
        data = MemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_update(membership=membership, role=data.validated_data["role"])
        return Response(MembershipSerializer(membership).data)

    def _require_owner(self, request) -> None:
        if not Role.at_least(request.role, Role.OWNER):
            raise PermissionDenied(
                f"Your role ({request.role}) does not allow this action; it needs owner."
            )


class InvitationAcceptView(OrganizationAPIView):
    read_role = None
    write_role = None

    @extend_schema(
        summary="Accept an invitation",
        description="Joins the organization with the role the invitation names. Needs the "
        "invited person's own credential (a Supabase JWT for the invited email address); an "
        "API key is refused with 403. An unknown, expired or used token answers 400 "
        "`invitation_invalid`.",
        request=InvitationAcceptSerializer,
        responses={201: MembershipSerializer},
    )
    def post(self, request):
        data = InvitationAcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.invitation_accept(
            token=data.validated_data["token"], user=request_person(request)
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class ApiKeyViewSet(OrganizationScopedViewSet):
    """The organization's API keys: admins list, create and revoke them. A key's secret is
    shown once, when it is created; a key is never changed, only revoked."""

    serializer_class = ApiKeySerializer
    queryset = ApiKey.objects.none()  # for schema generation; get_queryset is the real one
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    def get_queryset(self):
        return selectors.api_key_list(organization=self.organization)

    @extend_schema(
        summary="List API keys",
        description="Admins only. The organization's keys, revoked ones included; a key's "
        "secret is never shown again after it is created.",
    )
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(
        summary="Create an API key",
        description="Admins only. The answer carries the secret (`key`) once: store it, it "
        "cannot be read again. A key cannot have a higher role than its creator's (403).",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
        examples=[
            OpenApiExample(
                "A key for a CI job",
                value={"name": "ci", "role": "member", "expires_at": None},
                request_only=True,
            )
        ],
    )
    def create(self, request):
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        role = data.validated_data["role"]
        if not Role.at_least(request.role, role):
            raise PermissionDenied(f"You cannot create a key with more rights ({role}) than yours.")
        key, raw = services.api_key_create(
            organization=self.organization,
            name=data.validated_data["name"],
            role=role,
            created_by=request_user(request),
            expires_at=data.validated_data.get("expires_at"),
        )
        body = ApiKeySerializer(key).data | {"key": raw}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Get an API key",
        description="Admins only. The key's name, role, prefix and use, never its secret.",
    )
    def retrieve(self, request, pk=None):
        key = selectors.api_key_get(organization=self.organization, api_key_id=pk)
        return Response(ApiKeySerializer(key).data)

    @extend_schema(
        summary="Revoke an API key",
        description="Admins only. The key answers 401 from now on; it stays in the list with "
        "its `revoked_at`. Revoking a revoked key changes nothing.",
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        key = selectors.api_key_get(organization=self.organization, api_key_id=pk)
        services.api_key_revoke(api_key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventViewSet(OrganizationScopedViewSet):
    """The organization's audit trail (credential changes...), newest first; admins only."""

    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.none()  # for schema generation; get_queryset is the real one
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    def get_queryset(self):
        return selectors.audit_event_list(organization=self.organization)

    @extend_schema(
        summary="List audit events",
        description="Admins only. Who changed what in the organization's settings and "
        "secrets (e.g. `credential.created`, `credential.rotated`), newest first. An event "
        "names the person or the API key that made the change and never holds a secret.",
    )
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)
