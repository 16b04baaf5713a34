"""Fixtures of the integrations tests: the carriers' loopback fakes and telephony helpers of
the calls tests, fixed encryption keys, and credentials made through the services."""

from __future__ import annotations

import secrets

import pytest
from cryptography.fernet import Fernet
from django_tenants.utils import tenant_context

# The batch dialing tests' committed organization and (agent, number), for the webhook events.
from tests.calls.batch_support import batch_org, dialer  # noqa: F401

# The tools tests' fakes and settings (tests/integrations/tool_support.py) and the bridge's.
from tests.calls.bridge_support import (  # noqa: E402, F401
    _channel_layer_namespace,
    _server_env,
    fake_gemini,
    fake_hume,
    fake_openai,
    fake_twilio_rest,
    script,
)
from tests.calls.telephony_support import (  # noqa: F401
    alpha,
    dial,
    make_agent,
    make_number,
    plivo,
    telephony_settings,
    twilio,
)
from tests.integrations.tool_support import (  # noqa: E402, F401
    loopback_allowed,
    shopify_mcp,
    telegram_mcp,
    telegram_sse,
    tool_endpoint,
)
from tests.integrations.webhook_support import eager, receiver  # noqa: E402, F401

TEST_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _encryption_keys(settings):
    settings.SECRETS_ENCRYPTION_KEYS = [TEST_KEY]


def token() -> str:
    """A secret no fake knows in advance (long enough that its last four are shown)."""
    return "tok-" + secrets.token_hex(16)


@pytest.fixture
def make_credential():
    """make_credential(org, kind, secret, **identifiers) -> the ProviderCredential, created
    through the service in org's schema."""
    from integrations.services import credential_create

    def make(org, kind, secret, label="", **identifiers):
        with tenant_context(org):
            return credential_create(kind=kind, secret=secret, identifiers=identifiers, label=label)

    return make
