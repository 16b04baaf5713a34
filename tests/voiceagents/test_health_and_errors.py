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
