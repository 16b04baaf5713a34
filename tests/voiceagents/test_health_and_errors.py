import json

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_every_check_ok(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {name for name in body["checks"]} == {"database", "redis", "migrations"}
    assert all(check["status"] == "ok" for check in body["checks"].values())


def test_readyz_reports_a_down_redis_as_not_ready_without_crashing(client):
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["status"] == "error"
    assert "Connection" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


def test_unknown_api_route_answers_the_json_error_shape(client):
    response = client.get("/api/v1/does-not-exist/", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": response.json()["error"]["message"],
            "details": {},
            "request_id": "req-123",
        }
    }
    assert "/api/v1/does-not-exist/" in response.json()["error"]["message"]


def test_unknown_api_route_on_a_tenant_domain_is_json_too(client, org_a):
    response = client.get("/api/nothing", HTTP_HOST="alpha.localhost")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32


def test_metrics_are_exposed_in_prometheus_format(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "voiceagents_http_requests_total" in text
    assert 'route="/healthz"' in text
    assert 'voiceagents_queue_depth{queue="celery"}' in text
    assert "voiceagents_active_calls" in text


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_an_unsafe_method_on_an_unknown_api_route_is_a_json_404_not_a_csrf_page(method):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)("/api/v1/nothing-here/", "{}", "application/json")

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert f"{method.upper()} /api/v1/nothing-here/" in error["message"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", '{"name": "' + "x" * 1024 + '"}'),
        ("application/x-www-form-urlencoded", "name=" + "x" * 1024),
    ],
)
def test_a_body_over_the_size_limit_is_a_json_413_saying_the_limit(
    org_a, make_api_key, bearer, settings, content_type, body
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512
    client = bearer(make_api_key(org_a, "admin"))

    response = client.post("/api/v1/agents/", body, content_type=content_type)

    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "512 bytes" in error["message"]


def test_a_multipart_form_over_the_size_limit_is_a_json_413(org_a, make_api_key, bearer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512
    client = bearer(make_api_key(org_a, "admin"))

    response = client.post(
        "/api/v1/knowledge-bases/1/documents/", {"title": "x" * 1024}, format="multipart"
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_django_level_refusals_under_api_are_json_and_pages_elsewhere(rf):
    from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent

    from voiceagents import views

    too_big = views.handler400(rf.post("/api/v1/agents/"), RequestDataTooBig("too big"))
    too_many = views.handler400(rf.post("/api/v1/agents/"), TooManyFieldsSent("1001 fields"))
    forbidden = views.handler403(rf.get("/api/v1/agents/"))
    csrf = views.csrf_failure(rf.post("/api/v1/agents/"), reason="CSRF cookie not set.")
    page = views.csrf_failure(rf.post("/admin/login/"), reason="CSRF cookie not set.")

    assert (too_big.status_code, json.loads(too_big.content)["error"]["code"]) == (
        413,
        "payload_too_large",
    )
    assert (too_many.status_code, json.loads(too_many.content)["error"]["code"]) == (
        400,
        "bad_request",
    )
    assert json.loads(forbidden.content)["error"]["code"] == "permission_denied"
    assert csrf.status_code == 403 and "Bearer" in json.loads(csrf.content)["error"]["message"]
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")
