"""Which account a client is built with: the organization's own credential first, the
platform's from settings only when ALLOW_PLATFORM_CREDENTIALS allows it, and never another
organization's. The same resolution serves carriers, realtime sessions and embeddings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from agents.realtime.registry import provider_credentials
from calls.exceptions import CarrierNotConfigured
from calls.telephony.credentials import carrier_client
from integrations.exceptions import CredentialMissing, CredentialUnreadable
from integrations.models import ProviderCredential
from integrations.selectors import CredentialSource, credential_identifier, credential_resolve
from tests.integrations.conftest import token

pytestmark = pytest.mark.django_db

PLATFORM_KEY = "sk-platform-0123456789"


@pytest.fixture
def platform(settings):
    settings.OPENAI_API_KEY = PLATFORM_KEY
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.ALLOW_PLATFORM_CREDENTIALS = True
    return settings


def test_the_organizations_own_credential_comes_first(platform, org_a, make_credential):
    own = token()
    credential = make_credential(org_a, "openai", own)

    with tenant_context(org_a):
        resolved = credential_resolve(kind="openai")
        api_key, base_url = provider_credentials("openai")

    assert (resolved.secret, resolved.source, resolved.credential_id) == (
        own,
        CredentialSource.ORGANIZATION,
        credential.pk,
    )
    assert (api_key, base_url) == (own, "http://127.0.0.1:9/v1")  # base URLs stay platform's
    assert own not in repr(resolved)


def test_b_never_gets_as_credential_even_when_it_is_the_only_one(
    platform, org_a, org_b, make_credential
):
    own = token()
    make_credential(org_a, "openai", own)

    with tenant_context(org_b):
        fallback = credential_resolve(kind="openai")
    platform.ALLOW_PLATFORM_CREDENTIALS = False
    with tenant_context(org_b), pytest.raises(CredentialMissing) as missing:
        provider_credentials("openai")

    assert (fallback.secret, fallback.source) == (PLATFORM_KEY, CredentialSource.PLATFORM)
    assert missing.value.status == 503
    assert own not in missing.value.message


def test_without_the_platform_fallback_a_missing_key_says_what_to_add(platform, org_a):
    platform.ALLOW_PLATFORM_CREDENTIALS = False

    with tenant_context(org_a), pytest.raises(CredentialMissing) as missing:
        credential_resolve(kind="openai")

    assert missing.value.code == "credential_missing"
    assert "/api/v1/credentials/" in missing.value.message
    assert "OPENAI_API_KEY" not in missing.value.message  # setting it would not help


def test_with_the_fallback_on_and_nothing_set_the_message_names_both_ways(settings, org_a):
    settings.ALLOW_PLATFORM_CREDENTIALS = True
    settings.TWILIO_ACCOUNT_ID = settings.TWILIO_AUTH_TOKEN = ""

    with tenant_context(org_a), pytest.raises(CarrierNotConfigured) as missing:
        carrier_client("twilio")

    message = missing.value.message
    assert missing.value.status == 503
    assert "/api/v1/credentials/" in message
    assert "TWILIO_ACCOUNT_SID" in message and "TWILIO_AUTH_TOKEN" in message
    assert missing.value.details["settings"] == ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]


def test_outside_any_organization_only_the_platforms_account_exists(
    platform, org_a, make_credential
):
    make_credential(org_a, "openai", token())
    platform.ALLOW_PLATFORM_CREDENTIALS = False  # lending to organizations is what it governs

    with schema_context("public"):
        resolved = credential_resolve(kind="openai")

    assert (resolved.secret, resolved.source) == (PLATFORM_KEY, CredentialSource.PLATFORM)


def test_the_carrier_client_is_built_with_the_organizations_account(twilio, org_a, make_credential):
    sid, auth_token = twilio.add_account(auth_token=token())
    make_credential(org_a, "twilio", auth_token, account_sid=sid)

    with tenant_context(org_a):
        client = carrier_client("twilio")

    assert (client.account_sid, client.auth_token) == (sid, auth_token)


def test_last_use_is_written_at_most_once_a_minute(platform, org_a, make_credential):
    credential = make_credential(org_a, "openai", token())

    with tenant_context(org_a):
        provider_credentials("openai")
        first = ProviderCredential.objects.get().last_used_at
        provider_credentials("openai")
        second = ProviderCredential.objects.get().last_used_at
        stale = timezone.now() - dt.timedelta(minutes=5)
        ProviderCredential.objects.filter(pk=credential.pk).update(last_used_at=stale)
        provider_credentials("openai")
        third = ProviderCredential.objects.get().last_used_at

    assert first is not None and second == first
    assert third > stale


def test_a_secret_no_configured_key_decrypts_is_refused_not_replaced_by_the_platforms(
    platform, org_a, make_credential
):
    make_credential(org_a, "openai", token())
    from cryptography.fernet import Fernet

    platform.SECRETS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with tenant_context(org_a), pytest.raises(CredentialUnreadable) as unreadable:
        provider_credentials("openai")

    assert unreadable.value.status == 503


def test_an_accounts_default_config_id_follows_the_account(settings, org_a, org_b, make_credential):
    own_config = "7d5e3f1c-2b4a-4c6d-8e9f-0a1b2c3d4e5f"
    settings.HUME_CONFIG_ID = "0b6b5e4e-6b1c-4b59-9a5a-0b7d1f2d7e11"
    make_credential(org_a, "hume", token(), config_id=own_config)

    with tenant_context(org_a):
        own = credential_identifier(kind="hume", name="config_id")
    with tenant_context(org_b):
        platform = credential_identifier(kind="hume", name="config_id")

    assert (own, platform) == (own_config, settings.HUME_CONFIG_ID)
