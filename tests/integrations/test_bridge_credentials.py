"""The media bridge opens its realtime session with the organization's own key, read in the
call's schema when the stream connects (the platform's key otherwise)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context

from calls.bridge.build import bridge_build
from calls.stream_tokens import StreamGrant
from calls.telephony.twilio import TwilioMediaProtocol
from integrations.services import credential_create
from tests.calls.bridge_support import make_call
from tests.integrations.conftest import token

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]

PLATFORM_KEY = "sk-platform-0123456789"
BASE_URL = "http://127.0.0.1:9/v1"


@pytest.fixture
def platform(settings):
    settings.OPENAI_API_KEY = PLATFORM_KEY
    settings.OPENAI_BASE_URL = BASE_URL
    settings.ALLOW_PLATFORM_CREDENTIALS = True
    return settings


async def _ignore(*args):
    return None


@pytest.mark.parametrize("own_key", [True, False], ids=["own key", "platform key"])
async def test_the_session_is_opened_with_the_organizations_key(platform, org_a, own_key):
    own = token()

    def prepare():
        if own_key:
            with tenant_context(org_a):
                credential_create(kind="openai", secret=own)
        return make_call(org_a)

    call = await sync_to_async(prepare)()

    bridge = await bridge_build(
        StreamGrant(org_a.schema_name, call.pk), TwilioMediaProtocol(), send=_ignore, close=_ignore
    )

    assert bridge is not None
    assert bridge.session.config.api_key == (own if own_key else PLATFORM_KEY)
    assert bridge.session.config.base_url == BASE_URL


async def test_without_a_usable_key_the_stream_is_refused(platform, org_a):
    platform.ALLOW_PLATFORM_CREDENTIALS = False
    call = await sync_to_async(make_call)(org_a)

    bridge = await bridge_build(
        StreamGrant(org_a.schema_name, call.pk), TwilioMediaProtocol(), send=_ignore, close=_ignore
    )

    assert bridge is None
