"""A custom tool over HTTPS, as deployments require (``http://`` refused), on a loopback
endpoint whose certificate a trustme CA signed: the signed POST goes through TLS when the
CA is trusted (``SSL_CERT_FILE``, as a deployment trusts an internal CA), and an endpoint
whose certificate is not trusted is unreachable, never called without TLS checks."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from integrations.models import ToolExecution
from tests.fakes.tool_endpoint import ToolEndpoint
from tests.integrations.tool_support import make_custom_tool

pytestmark = pytest.mark.django_db

URL = "/api/v1/custom-tools/"


@pytest.fixture
def https_endpoint(settings):
    # https:// only (the deployment's default); loopback allowed, the fake's address.
    settings.INTEGRATION_URLS_ALLOW_HTTP = False
    settings.INTEGRATION_URLS_ALLOW_PRIVATE = True
    with ToolEndpoint(tls=True) as endpoint:
        yield endpoint


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


def test_a_custom_tool_is_called_over_https(org_a, member, https_endpoint, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", https_endpoint.ca_file())
    tool, _secret = make_custom_tool(org_a, https_endpoint)
    assert tool.url.startswith("https://127.0.0.1:")

    response = member.post(
        f"{URL}{tool.pk}/execute/", {"arguments": {"day": "2026-12-24"}}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["result"] == {"booked": True, "day": "2026-12-24"}
    [received] = https_endpoint.received
    assert received.verified and received.path == "/book"


def test_an_untrusted_certificate_is_unreachable(org_a, member, https_endpoint, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    tool, _secret = make_custom_tool(org_a, https_endpoint)

    response = member.post(
        f"{URL}{tool.pk}/execute/", {"arguments": {"day": "2026-12-24"}}, format="json"
    )

    assert response.status_code == 502, response.content
    error = response.json()["error"]
    assert error["code"] == "tool_server_unreachable"
    assert https_endpoint.received == []
    with tenant_context(org_a):
        execution = ToolExecution.objects.get()
    assert not execution.ok and execution.error_code == "tool_server_unreachable"


def test_an_http_url_is_refused_where_https_is_required(
    org_a, make_api_key, bearer, https_endpoint
):
    admin = bearer(make_api_key(org_a, "admin"))

    response = admin.post(
        URL,
        {
            "name": "plain",
            "description": "Over plain HTTP.",
            "parameters": {"type": "object", "properties": {}},
            "url": https_endpoint.url("/book").replace("https://", "http://"),
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"]["url"] == ["Use an https:// URL."]
