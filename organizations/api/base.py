"""The API's base classes. They resolve the organization and the caller's role once, before
any view code runs, and own the tenant's queryset, so forgetting the tenant is hard.

Tenant selection for the API (the HTTP half is django-tenants' middleware, by host):
- on the main host, the credential selects the organization (an API key's own, a JWT's
  ``org_id``), and its schema is activated for the rest of the request;
- on an organization's domain, the credential must belong to that organization; one of
  another organization is refused with 403 before any tenant data is touched, whatever the
  URL, so the answer never reveals whether a row exists.
Role checks then compare the caller's role with what the view declares.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from rest_framework import mixins, permissions, viewsets
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.request import Request
from rest_framework.views import APIView

from organizations.authentication import Credential
from organizations.models import Membership, Organization, Role, User
from voiceagents.api.input import reject_nul_characters
from voiceagents.tenancy import activate_tenant, current_schema_name

_OTHER_ORG = "This credential is not valid for this organization."
_NO_ORG = (
    "This request names no organization: use an API key, a JWT with an org_id "
    "claim, or your organization's own domain."
)


def resolve_organization(request: Request) -> tuple[Organization | None, str | None]:
    """The organization this request acts on and the caller's role in it (None, None when the
    request names no organization, e.g. a JWT on the main host without an org claim)."""
    host_tenant = getattr(request, "tenant", None)
    # The organization whose domain the request came to; None on the main host.
    host_organization: Organization | None = (
        host_tenant if host_tenant is not None and not host_tenant.is_public else None
    )
    credential: Credential | None = request.auth if isinstance(request.auth, Credential) else None

    organization = credential.organization if credential else None
    if organization is None:
        organization = host_organization
    if organization is None:
        return None, None
    if host_organization is not None and organization.pk != host_organization.pk:
        raise PermissionDenied(_OTHER_ORG)

    user = request.user
    if credential is not None and credential.kind == "api_key":
        role = credential.role
    elif user.is_superuser:
        role = Role.OWNER
    else:
        # Only a person has memberships.
        role = (
            Membership.objects.filter(user_id=user.pk, organization_id=organization.pk)
            .values_list("role", flat=True)
            .first()
            if isinstance(user, User)
            else None
        )
        if role is None:
            raise PermissionDenied(_OTHER_ORG)
    return organization, role


class HasRole(permissions.BasePermission):
    """Compares the caller's role with the view's ``required_role(request)``."""

    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        minimum = view.required_role(request)
        if minimum is None:
            return True
        if request.role is None:
            raise PermissionDenied(_NO_ORG)
        if not Role.at_least(request.role, minimum):
            self.message = (
                f"Your role ({request.role}) does not allow this action; it needs {minimum}."
            )
            return False
        return True


class OrganizationRequest(Request):
    """The type of ``self.request`` in the API views: a DRF Request on which
    ``OrganizationScopedMixin.perform_authentication`` has set the organization the request
    acts on and the caller's role in it (None, None when it names no organization). Only a
    type: the object is DRF's own Request, and these attributes are set on the HttpRequest it
    wraps (which it reads them from)."""

    organization: Organization | None
    role: str | None
    tenant: Organization  # set by django-tenants' middleware, or here from the credential


class OrganizationScopedMixin(APIView):
    """Mixed into every API view. Declare ``read_role``/``write_role`` (and ``action_roles``
    for workflow actions such as ``{"end": Role.MEMBER}``)."""

    read_role: ClassVar[str | None] = Role.VIEWER
    write_role: ClassVar[str | None] = Role.ADMIN
    action_roles: ClassVar[dict[str, str | None]] = {}
    permission_classes = [permissions.IsAuthenticated, HasRole]
    request: OrganizationRequest

    # Ids are integers: anything else where an id goes matches no route and gets the JSON 404
    # of an unknown route, never a ValueError from the query.
    lookup_value_regex = "[0-9]+"

    def perform_authentication(self, request: Request) -> None:
        if not request.user or not request.user.is_authenticated:
            raise NotAuthenticated()
        organization, role = resolve_organization(request)
        # Here a Request becomes an OrganizationRequest: this sets what that type declares, on
        # the HttpRequest it wraps. A Request reads missing attributes from its HttpRequest,
        # and so do the copies DRF makes of it (clone_request, for OPTIONS' permission checks).
        scoped = cast(OrganizationRequest, request._request)
        scoped.organization = organization
        scoped.role = role
        if organization is not None and current_schema_name() != organization.schema_name:
            activate_tenant(organization)
        if organization is not None:
            scoped.tenant = organization

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # After authentication and permissions: a stranger gets 401/403, not a lecture on input.
        reject_nul_characters(query_params=request.query_params, data=request.data)

    def required_role(self, request: Request) -> str | None:
        action = getattr(self, "action", None)
        if action in self.action_roles:
            return self.action_roles[action]
        if request.method in permissions.SAFE_METHODS:
            return self.read_role
        return self.write_role

    @property
    def organization(self) -> Organization:
        """The organization the request acts on (HasRole has refused requests naming none)."""
        organization = self.request.organization
        if organization is None:
            raise PermissionDenied(_NO_ORG)
        return organization


class OrganizationAPIView(OrganizationScopedMixin, APIView):
    """A workflow endpoint (start a call, search a knowledge base...)."""


class OrganizationScopedViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    """Base for resource viewsets that declare their own actions: the queryset is the active
    tenant schema's, so rows of other organizations cannot be reached by id."""


class OrganizationModelViewSet(
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
