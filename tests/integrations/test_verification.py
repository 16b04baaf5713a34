"""POST /api/v1/credentials/{id}/verify/: one cheap read call to the provider, through its
real SDK or HTTP API against the loopback fakes; the result is stored on the credential and
never carries the secret."""

from __future__ import annotations

import pytest

from tests.fakes import gemini_http, hume_evi, openai_http
from tests.fakes.gemini_http import FakeGeminiEmbeddings
from tests.fakes.hume_evi import FakeHumeEVI
from tests.fakes.openai_http import FakeOpenAIEmbeddings
from tests.integrations.conftest import token
from tests.servers import ThreadedServer, free_port

pytestmark = pytest.mark.django_db

URL = "/api/v1/credentials/"


@pytest.fixture
def admin(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


@pytest.fixture
def openai_fake(settings):
    with FakeOpenAIEmbeddings() as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        yield fake


@pytest.fixture
def gemini_fake(settings):
    with FakeGeminiEmbeddings() as fake:
        settings.GEMINI_BASE_URL = fake.base_url
        yield fake


@pytest.fixture
def hume_fake(settings):
    server = ThreadedServer(FakeHumeEVI())
    settings.HUME_BASE_URL = server.fake.base_url
    yield server.fake
    server.stop()


def verify(client, credential):
    response = client.post(f"{URL}{credential.pk}/verify/", {}, format="json")
    assert response.status_code == 200, response.content
    return response


def _verification(response) -> dict:
    return response.json()["verification"]


def test_a_twilio_account_is_fetched_with_its_own_credentials(
    admin, org_a, twilio, make_credential
):
    sid, auth_token = twilio.add_account(auth_token=token(), name="Alpha Telecom")
    good = make_credential(org_a, "twilio", auth_token, account_sid=sid)

    response = verify(admin, good)

    assert _verification(response)["status"] == "ok"
    assert "Alpha Telecom" in _verification(response)["message"]
    assert _verification(response)["verified_at"]
    (request,) = [r for r in twilio.requests if r.path == f"/2010-04-01/Accounts/{sid}.json"]
    assert request.auth == (sid, auth_token)
    assert auth_token not in response.content.decode()


def test_a_refused_twilio_token_is_a_failed_verification(admin, org_a, twilio, make_credential):
    sid, _ = twilio.add_account()
    wrong = token()
    credential = make_credential(org_a, "twilio", wrong, account_sid=sid)

    response = verify(admin, credential)

    assert _verification(response)["status"] == "failed"
    assert "refused the credentials (HTTP 401, error 20003)" in _verification(response)["message"]
    assert wrong not in response.content.decode()


def test_plivo_accounts_are_fetched(admin, org_a, plivo, make_credential):
    auth_id, auth_token = plivo.add_account(auth_token=token())
    good = make_credential(org_a, "plivo", auth_token, auth_id=auth_id)

    ok = _verification(verify(admin, good))
    admin.patch(f"{URL}{good.pk}/", {"secret": token()}, format="json")
    failed = _verification(verify(admin, good))

    assert ok["status"] == "ok" and auth_id[-4:] in ok["message"]
    assert failed["status"] == "failed" and "HTTP 401" in failed["message"]


def test_openai_keys_list_the_models(admin, org_a, openai_fake, make_credential):
    good = make_credential(org_a, "openai", openai_http.API_KEY)
    wrong_key = "sk-wrong-0123456789abcdef"

    ok = _verification(verify(admin, good))
    admin.patch(f"{URL}{good.pk}/", {"secret": wrong_key}, format="json")
    failed_response = verify(admin, good)

    assert ok["status"] == "ok" and "models" in ok["message"]
    assert [r.path for r in openai_fake.requests] == ["/v1/models", "/v1/models"]
    assert _verification(failed_response)["status"] == "failed"
    assert "HTTP 401" in _verification(failed_response)["message"]
    assert wrong_key not in failed_response.content.decode()  # OpenAI would echo part of it


def test_gemini_keys_list_the_models(admin, org_a, gemini_fake, make_credential):
    good = make_credential(org_a, "gemini", gemini_http.API_KEY)

    ok = _verification(verify(admin, good))
    admin.patch(f"{URL}{good.pk}/", {"secret": "AIza-wrong-0123456789"}, format="json")
    failed = _verification(verify(admin, good))

    assert ok["status"] == "ok"
    assert gemini_fake.requests[0].path.split("?")[0] in ("/v1/models", "/v1beta/models")
    assert failed["status"] == "failed" and "refused the credentials" in failed["message"]


def test_hume_keys_read_their_evi_config(admin, org_a, hume_fake, make_credential):
    good = make_credential(org_a, "hume", hume_evi.API_KEY, config_id=hume_evi.CONFIG_ID)

    ok = _verification(verify(admin, good))
    admin.patch(
        f"{URL}{good.pk}/",
        {"identifiers": {"config_id": "7d5e3f1c-2b4a-4c6d-8e9f-0a1b2c3d4e5f"}},
        format="json",
    )
    unknown_config = _verification(verify(admin, good))
    admin.patch(f"{URL}{good.pk}/", {"identifiers": {}, "secret": token()}, format="json")
    refused = _verification(verify(admin, good))

    assert ok["status"] == "ok" and hume_evi.CONFIG_ID in ok["message"]
    assert unknown_config["status"] == "failed" and "HTTP 404" in unknown_config["message"]
    assert refused["status"] == "failed" and "HTTP 401" in refused["message"]


def test_an_unreachable_provider_is_a_failed_verification(admin, org_a, settings, make_credential):
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    credential = make_credential(org_a, "openai", token())

    failed = _verification(verify(admin, credential))

    assert failed["status"] == "failed" and "could not be reached" in failed["message"]
