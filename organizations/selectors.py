"""Reads for organizations. ``*_get`` loaders return the same error for "missing" and "not
yours", so an id cannot be used to probe another organization."""

from __future__ import annotations

from django.db.models import QuerySet

from organizations.exceptions import ApiKeyNotFound, MemberNotFound, OrganizationNotFound
from organizations.models import ApiKey, Membership, Organization, User


def organization_get(*, organization_id: int | str, visible_to: Organization) -> Organization:
    """The organization, if it is the one the request acts on."""
    if str(organization_id) != str(visible_to.pk):
        raise OrganizationNotFound()
    return visible_to


def organization_list_for_user(*, user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user_id=user.pk).exclude(schema_name="public")


def membership_list(*, organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user")


def membership_get(*, organization: Organization, membership_id: int | str) -> Membership:
    membership = membership_list(organization=organization).filter(pk=membership_id).first()
    if membership is None:
        raise MemberNotFound()
    return membership


def api_key_list(*, organization: Organization) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization=organization).select_related("created_by")


def api_key_get(*, organization: Organization, api_key_id: int | str) -> ApiKey:
    key = api_key_list(organization=organization).filter(pk=api_key_id).first()
    if key is None:
        raise ApiKeyNotFound()
    return key
