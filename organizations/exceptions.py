from voiceagents.exceptions import ApplicationError, Conflict, NotFound


class OrganizationNotFound(NotFound):
    code = "organization_not_found"
    default_message = "Organization not found."


class SlugTaken(Conflict):
    code = "slug_taken"
    default_message = "An organization with this slug already exists; choose another slug."


class MemberNotFound(NotFound):
    code = "member_not_found"
    default_message = "Member not found."


class LastOwner(Conflict):
    code = "last_owner"
    default_message = "An organization must keep at least one owner."


class InvitationInvalid(ApplicationError):
    code = "invitation_invalid"
    status = 400
    default_message = "This invitation is invalid, expired or already used."


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    default_message = "API key not found."
