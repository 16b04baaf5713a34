"""Pages of the organizations app: the invitation an email links to.

The link (``/invitations/accept/?token=...``) shows who invites whom to which organization,
with which role, and accepts it on POST: as the signed-in user when that is the invited
address, after the password of the invited address's account, or by creating that account for
someone new. The token travels in the query string and then in the form, never in a path (the
access log records paths), and the page sends no Referer.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from organizations import selectors, services
from organizations.exceptions import InvitationInvalid
from organizations.forms import InvitationSignInForm, InvitationSignUpForm
from organizations.models import Invitation, Membership, User

TEMPLATE = "organizations/invitation_accept.html"


@never_cache
@sensitive_post_parameters("token", "password", "password1", "password2")
def invitation_accept(request: HttpRequest) -> HttpResponse:
    token = (request.POST if request.method == "POST" else request.GET).get("token", "")
    try:
        invitation = selectors.invitation_get_pending(token_hash=services.invitation_hash(token))
    except InvitationInvalid as exc:
        return _page(request, {"error": exc.message}, status=400)

    mode, person = _mode(request, invitation)
    form: InvitationSignInForm | InvitationSignUpForm | None = None
    if mode == "sign_in":
        form = InvitationSignInForm(request.POST or None, request=request, email=invitation.email)
    elif mode == "sign_up":
        form = InvitationSignUpForm(request.POST or None, email=invitation.email)
    context: dict[str, Any] = {"invitation": invitation, "token": token, "mode": mode}
    if request.method != "POST" or mode == "other_account" or (form and not form.is_valid()):
        return _page(request, context | {"form": form})

    try:
        membership = _accept(token=token, mode=mode, person=person, form=form)
    except InvitationInvalid as exc:
        return _page(request, {"error": exc.message}, status=400)
    admin_urls = selectors.organization_admin_urls(user=membership.user)
    return _page(request, {"joined": membership, "admin_urls": admin_urls})


def _mode(request: HttpRequest, invitation: Invitation) -> tuple[str, User | None]:
    """How this visitor accepts: "accept" (signed in as the invited address), "other_account"
    (signed in as someone else), "sign_in" (the address has an account) or "sign_up"."""
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        same = user.email.lower() == invitation.email
        return ("accept" if same else "other_account"), user
    if selectors.user_get_by_email(email=invitation.email) is not None:
        return "sign_in", None
    return "sign_up", None


def _accept(
    *,
    token: str,
    mode: str,
    person: User | None,
    form: InvitationSignInForm | InvitationSignUpForm | None,
) -> Membership:
    if isinstance(form, InvitationSignInForm) and form.user is not None:
        return services.invitation_accept(token=token, user=form.user)
    if isinstance(form, InvitationSignUpForm):
        return services.invitation_accept_new_user(
            token=token,
            password=form.cleaned_data["password1"],
            full_name=form.cleaned_data.get("full_name", ""),
        )
    if mode == "accept" and person is not None:
        return services.invitation_accept(token=token, user=person)
    raise InvitationInvalid()


def _page(request: HttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    response = render(request, TEMPLATE, context, status=status)
    # The URL carries the token: it must not leak to another site through a link.
    response["Referrer-Policy"] = "no-referrer"
    return response
