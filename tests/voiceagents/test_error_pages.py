"""The styled error pages (templates/400.html, 403.html, 404.html, 500.html) with DEBUG off, as
in production: HTML paths get the product's page saying what happened and what to do next,
/api/ keeps the JSON error shape.

This module is also the test-only URLconf of the 500 tests: the public routes plus one view that
fails, served through the real middleware and handlers."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.test import Client, override_settings
from django.urls import path

from voiceagents.urls_public import urlpatterns as public_urlpatterns

pytestmark = pytest.mark.django_db

THIS_URLCONF = __name__


def _failing_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


handler400 = "voiceagents.views.handler400"
handler403 = "voiceagents.views.handler403"
handler404 = "voiceagents.views.handler404"
handler500 = "voiceagents.views.handler500"
urlpatterns = [
    path("test-only/fails/", _failing_view),
    path("api/v1/test-only/fails/", _failing_view),
    *public_urlpatterns,
]


def _assert_styled(response, status: int, title: str) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert title in body
    assert "/static/voiceagents/base.css" in body  # the product's look, served locally
    assert 'class="error-page"' in body
    assert 'href="/admin/"' in body  # somewhere to go next
    assert "//cdn" not in body and "https://" not in body  # nothing loads from elsewhere
    return body


@override_settings(DEBUG=False)
def test_an_unknown_page_answers_the_styled_404(client):
    response = client.get("/no-such-page/")
    body = _assert_styled(response, 404, "This page does not exist")
    assert "<code>/no-such-page/</code>" in body
    assert 'href="/"' in body


@override_settings(DEBUG=False)
def test_an_unknown_page_on_an_organizations_domain_answers_the_styled_404(org_a):
    response = Client(HTTP_HOST="alpha.localhost").get("/nothing/here/")
    _assert_styled(response, 404, "This page does not exist")


@override_settings(DEBUG=False)
def test_a_page_the_role_forbids_answers_the_styled_403(org_a, make_member):
    # A viewer may read the agents but not open the add form: the admin raises PermissionDenied.
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "viewer"))
    response = client.get("/admin/agents/agent/add/")
    body = _assert_styled(response, 403, "You are not allowed to do this")
    assert "owner or admin" in body


@override_settings(DEBUG=False, PUBLIC_SCHEMA_URLCONF=THIS_URLCONF)
def test_a_failing_view_answers_the_styled_500():
    client = Client(raise_request_exception=False)
    response = client.get("/test-only/fails/")
    body = _assert_styled(response, 500, "Something went wrong on our side")
    assert "the view failed" not in body  # no internals shown


@override_settings(DEBUG=False, PUBLIC_SCHEMA_URLCONF=THIS_URLCONF)
def test_a_failing_api_view_still_answers_the_json_error_shape():
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/test-only/fails/", HTTP_X_REQUEST_ID="req-500")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "server_error"
    assert error["request_id"] == "req-500"


def test_the_500_page_renders_without_a_request_or_the_database(django_assert_num_queries):
    # Django renders 500.html with an empty context and no request; the failure may be that the
    # database is gone, so the page must not query it.
    with django_assert_num_queries(0):
        body = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in body
    assert "/static/voiceagents/base.css" in body


@override_settings(DEBUG=False)
def test_the_400_page_is_styled_too():
    # More form fields than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django refuses the body as suspicious
    # when the form is first read (by the CSRF check), before any view runs.
    fields = {f"field{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = Client().post("/admin/login/", fields)
    _assert_styled(response, 400, "The request could not be read")


@override_settings(DEBUG=False)
def test_unknown_api_routes_keep_the_json_error_shape(client, org_a):
    for host in ("localhost", "alpha.localhost"):
        response = client.get("/api/v1/unknown/", HTTP_HOST=host, HTTP_X_REQUEST_ID="req-404")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert response.json() == {
            "error": {
                "code": "not_found",
                "message": response.json()["error"]["message"],
                "details": {},
                "request_id": "req-404",
            }
        }
