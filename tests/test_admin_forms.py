"""No admin page answers with a server error: every add and change form registered on an
organization's admin (all apps), posted by the organization's owner with bad input (nothing,
values of the wrong type, overlong text, broken JSON, a phone number as people type it),
comes back as the form with its errors, a message or a refusal. Service errors raised while
saving (organizations.admin_mixins.ServiceErrorAdminMixin) are shown on the form, its input
kept; those of deletes and actions as messages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse
from django_tenants.utils import tenant_context

from calls.models import PhoneNumber

# The calls tests' fixtures, registered here by importing them (as tests/calls/conftest.py
# does) and requested by name.
from tests.calls.telephony_support import (  # noqa: F401
    make_agent,
    make_number,
    telephony_settings,
    twilio,
)
from voiceagents.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

HOST = "alpha.localhost"
PUBLIC_URLCONF = "voiceagents.urls_public"  # the main host's, where the platform admin is
TYPED_NUMBER = "(415) 555-0100"
_MANAGEMENT = re.compile(
    r'name="(?P<name>[\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(?P<value>\d*)"'
)


@pytest.fixture
def owner(org_a, make_member):
    return make_member(org_a, "owner")


@pytest.fixture
def client(owner):
    client = Client(HTTP_HOST=HOST)
    client.force_login(owner)
    return client


@pytest.fixture
def existing_rows(request, org_a, owner):
    """One row of the main models, so their change forms exist."""
    from calls.models import Call, Message
    from knowledge import services as knowledge
    from organizations.services import api_key_create

    new_agent, new_number = map(request.getfixturevalue, ("make_agent", "make_number"))
    api_key_create(organization=org_a, name="admin-forms", role="viewer")
    with tenant_context(org_a):
        agent = new_agent()
        number = new_number(agent=agent)
        base = knowledge.knowledge_base_create(name="Docs", description="")
        knowledge.document_add(knowledge_base=base, title="FAQ", content="Hours: 9 to 5.")
        call = Call.objects.create(
            direction="inbound",
            provider="twilio",
            from_number="+14155550111",
            to_number=number.number,
            agent=agent,
        )
        Message.objects.create(
            direction="inbound",
            provider="twilio",
            from_number="+14155550111",
            to_number=number.number,
            body="hi",
            call=call,
        )


def _admins():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _bad_value(name: str, field: forms.Field) -> Any:
    if isinstance(field, forms.JSONField):
        return '{"broken": '
    if isinstance(field, forms.ModelMultipleChoiceField):
        return ["999999"]
    if isinstance(field, forms.ModelChoiceField):
        return "999999"
    if isinstance(field, forms.IntegerField | forms.FloatField | forms.DecimalField):
        return "not-a-number"
    if isinstance(field, forms.DateTimeField | forms.DateField | forms.TimeField):
        return "not-a-date"
    if isinstance(field, forms.BooleanField):
        return "on"
    if isinstance(field, forms.ChoiceField):
        return "not-a-choice"
    if isinstance(field, forms.EmailField | forms.URLField):
        return "not an address"
    max_length = getattr(field, "max_length", None)
    return "x" * ((max_length or 10_000) + 50)


def _plausible_value(name: str, field: forms.Field) -> Any:
    """Values that pass the form, so the admin's save calls its service with them."""
    if "number" in name or "phone" in name:
        return TYPED_NUMBER
    if isinstance(field, forms.JSONField):
        return "{}"
    if isinstance(field, forms.ModelMultipleChoiceField):
        return [str(o.pk) for o in field.queryset[:1]]
    if isinstance(field, forms.ModelChoiceField):
        first = field.queryset.first()
        return str(first.pk) if first else ""
    if isinstance(field, forms.IntegerField | forms.FloatField | forms.DecimalField):
        return "1"
    if isinstance(field, forms.DateTimeField):
        return "2030-01-01 10:00:00"
    if isinstance(field, forms.BooleanField):
        return "on"
    if isinstance(field, forms.ChoiceField):
        values = [str(v) for v, _ in field.choices if v not in ("", None)]
        return values[0] if values else ""
    if isinstance(field, forms.EmailField):
        return "someone@example.com"
    return "Test"


def _payloads(form_class: type[forms.BaseForm], management: dict[str, str]) -> list[dict]:
    fields = [
        (name, field)
        for name, field in form_class.base_fields.items()
        if not isinstance(field, forms.FileField)
    ]
    return [
        dict(management),
        {**management, **{name: _bad_value(name, field) for name, field in fields}},
        {**management, **{name: _plausible_value(name, field) for name, field in fields}},
    ]


def _walk(client, url: str, form_class, *, plausible: bool = True) -> list[tuple[str, int]]:
    page = client.get(url)
    assert page.status_code < 500, (url, page.status_code)
    if page.status_code != 200:
        return [(url, page.status_code)]
    management = {m["name"]: m["value"] for m in _MANAGEMENT.finditer(page.content.decode())}
    seen = []
    for data in _payloads(form_class, management)[: None if plausible else 2]:
        response = client.post(url, data)
        seen.append((url, response.status_code))
        assert response.status_code < 500, (url, response.status_code, data)
    return seen


@pytest.mark.usefixtures("twilio")
def test_every_admin_form_answers_bad_input_without_a_server_error(
    client, owner, org_a, existing_rows
):
    request = RequestFactory().get("/admin/", HTTP_HOST=HOST)
    request.user = owner
    walked = []
    for model, model_admin in _admins():
        opts = model._meta
        with tenant_context(org_a):
            can_add = model_admin.has_add_permission(request)
            obj = model_admin.get_queryset(request).first()
            add_form = model_admin.get_form(request, None, change=False)
            change_form = model_admin.get_form(request, obj, change=True) if obj else None
        # An admin of pages of its own (the organization's settings) has no add or change
        # form: its pages are tested with it (tests/organizations/test_console_settings.py).
        routes = {pattern.name for pattern in model_admin.get_urls()}
        prefix = f"{opts.app_label}_{opts.model_name}"
        if can_add and f"{prefix}_add" in routes:
            url = reverse(f"admin:{prefix}_add")
            walked += _walk(client, url, add_form)
        if obj is not None and f"{prefix}_change" in routes:
            url = reverse(f"admin:{prefix}_change", args=[obj.pk])
            walked += _walk(client, url, change_form)

    # The main forms were really exercised (not all refused).
    posted = {url for url, status in walked if status in (200, 302)}
    for path in ("/admin/agents/agent/add/", "/admin/calls/phonenumber/add/"):
        assert path in posted, sorted(posted)


def test_every_platform_admin_form_answers_bad_input_without_a_server_error(db):
    from organizations.admin_site import platform_admin
    from tests.organizations.factories import UserFactory

    root = UserFactory(is_superuser=True, is_staff=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(root)
    request = RequestFactory().get("/admin/", HTTP_HOST="localhost")
    request.user = root
    walked = []
    for model, model_admin in sorted(
        platform_admin._registry.items(), key=lambda item: item[0]._meta.label
    ):
        opts = model._meta
        name = f"platform_admin:{opts.app_label}_{opts.model_name}"
        obj = model_admin.get_queryset(request).first()
        if model_admin.has_add_permission(request):
            form = model_admin.get_form(request, None, change=False)
            # Not the plausible payload: a valid organization would build a whole schema.
            url = reverse(f"{name}_add", urlconf=PUBLIC_URLCONF)
            walked += _walk(client, url, form, plausible=False)
        if obj is not None:
            form = model_admin.get_form(request, obj, change=True)
            url = reverse(f"{name}_change", args=[obj.pk], urlconf=PUBLIC_URLCONF)
            walked += _walk(client, url, form, plausible=False)

    assert "/admin/organizations/organization/add/" in {url for url, _ in walked}


def test_a_phone_number_typed_as_people_write_it_is_a_form_error_not_a_500(client, org_a):
    response = client.post(
        "/admin/calls/phonenumber/add/",
        {
            "number": TYPED_NUMBER,
            "provider": "twilio",
            "friendly_name": "Main",
            "voice_enabled": "on",
            "fallback_action": "message",
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors, "the service's refusal is on the form"
    assert TYPED_NUMBER in response.content.decode()  # the input is kept
    with tenant_context(org_a):
        assert not PhoneNumber.objects.exists()


def test_a_service_error_of_a_delete_or_an_action_is_a_message(
    client, org_a, existing_rows, monkeypatch
):
    from calls import services

    def refuse(**kwargs):
        raise ApplicationError("This number still has calls in progress.")

    monkeypatch.setattr(services, "phone_number_delete", refuse)
    with tenant_context(org_a):
        number = PhoneNumber.objects.get()

    attempts = {
        "delete": (f"/admin/calls/phonenumber/{number.pk}/delete/", {"post": "yes"}),
        "action": (
            "/admin/calls/phonenumber/",
            {"action": "delete_selected", "_selected_action": [number.pk], "post": "yes"},
        ),
    }
    for which, (url, data) in attempts.items():
        response = client.post(url, data)
        assert response.status_code == 302, which
        shown = [str(m) for m in client.get(response["Location"]).context["messages"]]
        assert shown == ["This number still has calls in progress."], which
    with tenant_context(org_a):
        assert PhoneNumber.objects.filter(pk=number.pk).exists()
