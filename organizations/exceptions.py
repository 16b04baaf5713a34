"""Errors of the organizations app, and every error code it answers with."""

from enum import StrEnum

from voiceagents.exceptions import ApplicationError, Conflict, NotFound


class OrganizationsErrorCode(StrEnum):
    ORGANIZATION_NOT_FOUND = "organization_not_found"
    SLUG_TAKEN = "slug_taken"
    MEMBER_NOT_FOUND = "member_not_found"
    LAST_OWNER = "last_owner"
    INVITATION_INVALID = "invitation_invalid"
    API_KEY_NOT_FOUND = "api_key_not_found"
    # The admin login forms (form errors, not ApplicationErrors): a member at another
    # organization's domain; an organization member at the platform admin.
    INVALID_LOGIN = "invalid_login"
    NOT_PLATFORM_ADMIN = "not_platform_admin"


class OrganizationNotFound(NotFound):
    code = OrganizationsErrorCode.ORGANIZATION_NOT_FOUND
    default_message = "Organization not found."


class SlugTaken(Conflict):
    code = OrganizationsErrorCode.SLUG_TAKEN
    default_message = "An organization with this slug already exists; choose another slug."


class MemberNotFound(NotFound):
    code = OrganizationsErrorCode.MEMBER_NOT_FOUND
    default_message = "Member not found."


class LastOwner(Conflict):
    code = OrganizationsErrorCode.LAST_OWNER
    default_message = "An organization must keep at least one owner."


class InvitationInvalid(ApplicationError):
    code = OrganizationsErrorCode.INVITATION_INVALID
    status = 400
    default_message = "This invitation is invalid, expired or already used."


class ApiKeyNotFound(NotFound):
    code = OrganizationsErrorCode.API_KEY_NOT_FOUND
    default_message = "API key not found."
