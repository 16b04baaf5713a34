"""Key rotation: a new key in front of SECRETS_ENCRYPTION_KEYS still reads what the old key
wrote; ``manage.py secrets_reencrypt`` rewrites every stored secret, in every organization's
schema, with the newest key, after which the old key can go. Servers and workers refuse to
start without a key; management commands that never touch a secret still run."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from integrations.models import ProviderCredential
from integrations.selectors import credential_resolve
from tests.integrations.conftest import token
from tests.servers import ROOT
from voiceagents import secrets

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def _stored(org) -> ProviderCredential:
    with tenant_context(org):
        return ProviderCredential.objects.get()


def test_rotation_old_ciphertext_decrypts_then_everything_is_reencrypted(
    settings, org_a, org_b, make_credential
):
    settings.SECRETS_ENCRYPTION_KEYS = [OLD]
    plain = {org_a.slug: token(), org_b.slug: token()}
    for org in (org_a, org_b):
        make_credential(org, "openai", plain[org.slug])
    written = {org.slug: _stored(org).secret.ciphertext for org in (org_a, org_b)}

    settings.SECRETS_ENCRYPTION_KEYS = [NEW, OLD]
    with tenant_context(org_a):
        assert credential_resolve(kind="openai").secret == plain[org_a.slug]
    out = io.StringIO()
    call_command("secrets_reencrypt", stdout=out)
    again = io.StringIO()
    call_command("secrets_reencrypt", stdout=again)

    assert f"{org_a.schema_name} integrations.ProviderCredential: 1 re-encrypted" in out.getvalue()
    assert f"{org_b.schema_name} integrations.ProviderCredential: 1 re-encrypted" in out.getvalue()
    assert "Re-encrypted 0 secret(s)" in again.getvalue()
    for org in (org_a, org_b):
        stored = _stored(org)
        assert stored.secret.ciphertext != written[org.slug]
        assert secrets.is_current(stored.secret.ciphertext)
    assert plain[org_a.slug] not in out.getvalue()

    settings.SECRETS_ENCRYPTION_KEYS = [NEW]  # the old key is dropped
    for org in (org_a, org_b):
        with tenant_context(org):
            assert credential_resolve(kind="openai").secret == plain[org.slug]


def test_a_secret_no_key_can_read_is_reported_and_left_alone(settings, org_a, make_credential):
    settings.SECRETS_ENCRYPTION_KEYS = [OLD]
    make_credential(org_a, "gemini", token())
    before = _stored(org_a).secret.ciphertext
    settings.SECRETS_ENCRYPTION_KEYS = [NEW]
    out = io.StringIO()

    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("secrets_reencrypt", stdout=out)

    assert "1 unreadable" in out.getvalue()
    assert _stored(org_a).secret.ciphertext == before


def _process(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "voiceagents.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("module", ["voiceagents.asgi", "voiceagents.wsgi"])
def test_servers_refuse_to_start_without_a_key(module):
    started = _process(f"import {module}", SECRETS_ENCRYPTION_KEYS="")
    bad_key = _process(f"import {module}", SECRETS_ENCRYPTION_KEYS="not-a-key")

    assert started.returncode != 0
    assert "SECRETS_ENCRYPTION_KEYS is empty" in started.stderr
    assert bad_key.returncode != 0 and "not a Fernet key" in bad_key.stderr


def test_a_celery_worker_refuses_to_start_without_a_key():
    code = (
        "from celery.signals import worker_init\n"
        "from voiceagents.celery import app\n"
        "worker_init.send(sender=None)\n"
    )
    refused = _process(code, SECRETS_ENCRYPTION_KEYS="")
    started = _process(code, SECRETS_ENCRYPTION_KEYS=NEW)

    assert refused.returncode == 1 and "SECRETS_ENCRYPTION_KEYS is empty" in refused.stderr
    assert started.returncode == 0, started.stderr


def test_management_commands_that_touch_no_secret_run_without_a_key():
    checked = _process(
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('check', '--fail-level', 'ERROR')\n",
        SECRETS_ENCRYPTION_KEYS="",
    )

    assert checked.returncode == 0, checked.stderr
