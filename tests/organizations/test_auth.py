"""Credentials: API keys and Supabase JWTs, on the main host and on tenant domains."""

import datetime as dt
import time

import jwt as pyjwt
import pytest
from django.utils import timezone

from organizations.models import ApiKey, User
from tests.fakes.supabase_jwks import FakeJwksServer

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/v1/api-keys/"


def test_api_key_selects_its_organization_on_the_main_host(org_a, make_api_key, bearer):
    raw = make_api_key(org_a, "admin")
    response = bearer(raw).get("/api/v1/organizations/")
    assert response.status_code == 200
    assert [org["slug"] for org in response.json()["results"]] == ["alpha"]


def test_api_key_works_on_its_own_domain(org_a, make_api_key, bearer):
    raw = make_api_key(org_a, "admin")
    response = bearer(raw, host="alpha.localhost").get(KEYS_URL)
    assert response.status_code == 200


def test_api_key_of_another_organization_is_refused_on_a_tenant_domain(
    org_a, org_b, make_api_key, bearer
):
    raw = make_api_key(org_a, "owner")
    response = bearer(raw, host="beta.localhost").get(KEYS_URL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_revoked_key_is_refused_with_401(org_a, make_api_key, bearer):
    raw = make_api_key(org_a, "admin")
    ApiKey.objects.filter(organization=org_a).update(revoked_at=timezone.now())
    response = bearer(raw).get(KEYS_URL)
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "authentication_failed",
        "message": "This API key has been revoked.",
        "details": {},
        "request_id": response["X-Request-ID"],
    }


def test_expired_key_is_refused_with_401(org_a, make_api_key, bearer):
    raw = make_api_key(org_a, "admin", expires_at=timezone.now() + dt.timedelta(seconds=1))
    ApiKey.objects.filter(organization=org_a).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    response = bearer(raw).get(KEYS_URL)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_unknown_key_and_garbage_tokens_are_refused(bearer, db):
    assert bearer("va_live_not-a-real-key").get(KEYS_URL).status_code == 401
    assert bearer("something-else").get(KEYS_URL).status_code == 401


def test_missing_credentials_answer_401_in_the_error_shape(api_client, db):
    response = api_client.get(KEYS_URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_key_is_stored_hashed_and_records_last_use(org_a, make_api_key, bearer):
    raw = make_api_key(org_a, "admin")
    key = ApiKey.objects.get(organization=org_a)
    assert raw not in (key.key_hash, key.prefix) and raw.startswith(key.prefix)
    assert key.last_used_at is None
    bearer(raw).get(KEYS_URL)
    key.refresh_from_db()
    assert key.last_used_at is not None


# --- JWT ------------------------------------------------------------------------------------------


def test_jwt_with_org_claim_acts_in_that_organization(org_a, make_member, make_jwt, bearer):
    user = make_member(org_a, "admin")
    response = bearer(make_jwt(user, org_a)).get(KEYS_URL)
    assert response.status_code == 200


def test_jwt_org_claim_at_top_level_works_too(org_a, make_member, make_jwt, bearer):
    user = make_member(org_a, "admin")
    response = bearer(make_jwt(user, org_id=org_a.slug)).get(KEYS_URL)
    assert response.status_code == 200


def test_jwt_without_org_claim_uses_the_tenant_domain(org_a, make_member, make_jwt, bearer):
    user = make_member(org_a, "admin")
    response = bearer(make_jwt(user), host="alpha.localhost").get(KEYS_URL)
    assert response.status_code == 200


def test_jwt_without_org_on_main_host_cannot_reach_org_resources(
    org_a, make_member, make_jwt, bearer
):
    user = make_member(org_a, "admin")
    response = bearer(make_jwt(user)).get(KEYS_URL)
    assert response.status_code == 403
    assert "org_id" in response.json()["error"]["message"]


def test_jwt_of_a_non_member_is_refused(org_a, org_b, make_member, make_jwt, bearer):
    user = make_member(org_a, "owner")
    response = bearer(make_jwt(user, org_b)).get(KEYS_URL)
    assert response.status_code == 403


def test_first_sight_jwt_creates_the_user(db, make_jwt, bearer):
    stranger = User(email="new.person@example.test", external_id="supabase-uid-1")
    token = make_jwt(stranger)
    response = bearer(token).get("/api/v1/organizations/")
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert User.objects.get(email="new.person@example.test").external_id == "supabase-uid-1"


@pytest.mark.parametrize(
    "tamper, message",
    [
        ({"expires_in": -120}, "expired"),
        ({"aud": "anon"}, "audience"),
        ({"secret": "a-different-secret-of-sufficient-length!!"}, "Invalid token"),
    ],
)
def test_expired_forged_and_wrong_audience_jwts_get_401(
    org_a, make_member, make_jwt, bearer, tamper, message
):
    user = make_member(org_a, "admin")
    response = bearer(make_jwt(user, org_a, **tamper)).get(KEYS_URL)
    assert response.status_code == 401
    assert message in response.json()["error"]["message"]


def test_issuer_is_checked_when_configured(org_a, make_member, make_jwt, bearer, settings):
    settings.SUPABASE_JWT_ISSUER = "https://project.supabase.co/auth/v1"
    user = make_member(org_a, "admin")
    bad = bearer(make_jwt(user, org_a, iss="https://evil.example/auth/v1")).get(KEYS_URL)
    assert bad.status_code == 401
    good = bearer(make_jwt(user, org_a, iss=settings.SUPABASE_JWT_ISSUER)).get(KEYS_URL)
    assert good.status_code == 200


@pytest.mark.parametrize("algorithm, kid", [("RS256", "rsa-1"), ("ES256", "ec-1")])
def test_asymmetric_jwts_are_verified_against_the_jwks_url(
    org_a, make_member, bearer, settings, algorithm, kid
):
    user = make_member(org_a, "admin")
    with FakeJwksServer() as jwks:
        settings.SUPABASE_JWKS_URL = jwks.url
        key = jwks.rsa_key if algorithm == "RS256" else jwks.ec_key
        claims = {
            "sub": "sub-asym",
            "email": user.email,
            "aud": "authenticated",
            "exp": int(time.time()) + 600,
            "app_metadata": {"org_id": org_a.pk},
        }
        token = pyjwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})
        first = bearer(token).get(KEYS_URL)
        second = bearer(token).get(KEYS_URL)
        assert (first.status_code, second.status_code) == (200, 200)
        assert jwks.requests == 1  # the key set is cached

        forged = pyjwt.encode(
            claims,
            FakeJwksServer().rsa_key if algorithm == "RS256" else FakeJwksServer().ec_key,
            algorithm=algorithm,
            headers={"kid": kid},
        )
        assert bearer(forged).get(KEYS_URL).status_code == 401


def test_openapi_schema_documents_both_auth_schemes(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    schemes = schema["components"]["securitySchemes"]
    assert {"ApiKeyAuth", "SupabaseJWT"} <= set(schemes)
    assert schemes["SupabaseJWT"]["bearerFormat"] == "JWT"


def test_throttling_answers_429_with_retry_after(org_a, make_api_key, bearer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"credential": "3/min"},
    }
    client = bearer(make_api_key(org_a, "admin"))
    statuses = [client.get(KEYS_URL).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get(KEYS_URL)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "throttled"


# --- JWT claims are untrusted input ----------------------------------------------------------------


def _stranger(**fields):
    return User(email="new.person@example.test", external_id="supabase-uid-2", **fields)


@pytest.mark.parametrize(
    ("claims", "claim"),
    [
        ({"email": 12345}, "email"),
        ({"email": ["new.person@example.test"]}, "email"),
        ({"email": "not an address"}, "email"),
        ({"email": "a" * 250 + "@example.test"}, "email"),
        ({"sub": "s" * 65}, "sub"),
        ({"sub": {"id": 1}}, "sub"),
        ({"sub": "uid\x00"}, "sub"),
        ({"org_id": "acme\x00"}, "org_id"),
        ({"org_id": {"slug": "alpha"}}, "org_id"),
        ({"app_metadata": {"org_id": "²"}}, "org_id"),
    ],
)
def test_a_validly_signed_token_with_a_wrong_claim_is_refused_naming_the_claim(
    db, make_jwt, bearer, claims, claim
):
    response = bearer(make_jwt(_stranger(), **claims)).get("/api/v1/organizations/")

    assert response.status_code == 401, response.content
    error = response.json()["error"]
    assert error["code"] == "authentication_failed"
    assert f"Token claim '{claim}'" in error["message"]
    assert not User.objects.filter(email="new.person@example.test").exists()


def test_a_long_or_odd_full_name_is_display_only_and_shortened(db, make_jwt, bearer):
    token = make_jwt(_stranger(), user_metadata={"full_name": "Ada \x00" + "L" * 500})

    response = bearer(token).get("/api/v1/organizations/")

    assert response.status_code == 200, response.json()
    user = User.objects.get(email="new.person@example.test")
    assert user.full_name == ("Ada " + "L" * 500)[:200]


@pytest.mark.parametrize("metadata", [{"full_name": 42}, "a string", ["x"]])
def test_a_full_name_that_is_not_text_is_ignored(db, make_jwt, bearer, metadata):
    response = bearer(make_jwt(_stranger(), user_metadata=metadata)).get("/api/v1/organizations/")

    assert response.status_code == 200
    assert User.objects.get(email="new.person@example.test").full_name == ""


def test_an_org_id_of_thirty_digits_is_a_plain_refusal(org_a, make_member, make_jwt, bearer):
    user = make_member(org_a, "admin")

    response = bearer(make_jwt(user, org_id="9" * 30)).get(KEYS_URL)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_claims_of_an_asymmetric_token_are_checked_too(db, bearer, settings):
    with FakeJwksServer() as jwks:
        settings.SUPABASE_JWKS_URL = jwks.url
        claims = {
            "sub": "s" * 65,
            "email": "new.person@example.test",
            "aud": "authenticated",
            "exp": int(time.time()) + 600,
        }
        token = pyjwt.encode(claims, jwks.ec_key, algorithm="ES256", headers={"kid": "ec-1"})

        response = bearer(token).get("/api/v1/organizations/")

    assert response.status_code == 401
    assert "Token claim 'sub'" in response.json()["error"]["message"]
