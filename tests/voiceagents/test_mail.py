"""The development email backend (voiceagents.mail): invitation emails are printed without
their token, and real delivery still carries the link."""

from __future__ import annotations

import logging

import pytest
from django.core import mail

from organizations.services import invitation_create

pytestmark = pytest.mark.django_db


def test_an_invitation_printed_by_the_console_backend_never_shows_its_token(
    org_a, make_member, settings, capsys, caplog, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "voiceagents.mail.ConsoleEmailBackend"
    owner = make_member(org_a, "owner")
    caplog.set_level(logging.DEBUG)

    with django_capture_on_commit_callbacks(execute=True):
        _invitation, token = invitation_create(
            organization=org_a, email="guest@example.test", role="viewer", invited_by=owner
        )

    printed = capsys.readouterr()
    assert "guest@example.test" in printed.out
    assert "/invitations/accept/?token=[redacted]" in printed.out
    assert token not in printed.out + printed.err
    assert token not in caplog.text


def test_real_delivery_carries_the_link_with_its_token(
    org_a, make_member, django_capture_on_commit_callbacks
):
    owner = make_member(org_a, "owner")

    with django_capture_on_commit_callbacks(execute=True):
        _invitation, token = invitation_create(
            organization=org_a, email="guest@example.test", role="viewer", invited_by=owner
        )

    assert f"/invitations/accept/?token={token}" in mail.outbox[0].body


def test_the_console_backend_leaves_the_message_it_was_given_unchanged(settings, capsys):
    settings.EMAIL_BACKEND = "voiceagents.mail.ConsoleEmailBackend"
    message = mail.EmailMultiAlternatives(
        "Reset", "Go to https://x.test/r?token=abcdef123456", to=["a@example.test"]
    )
    message.attach_alternative(
        '<a href="https://x.test/r?token=abcdef123456">reset</a>', "text/html"
    )

    message.send()

    assert "abcdef123456" not in capsys.readouterr().out
    assert "token=abcdef123456" in message.body
