"""The OpenAPI schema is a contract: schemathesis generates requests for every operation of
``/api/schema/`` and sends them to a live server (uvicorn, as ``make run`` serves, on the test
database), with an owner API key of an organization made for the run.

Every response must be a non-5xx answer whose status code, content type and body the schema
documents. The run is bounded and deterministic (a fixed seed, a few examples per operation);
``SCHEMA_FUZZ_EXAMPLES`` raises the examples per operation for a longer local run.

What would reach a third party goes to the loopback fakes instead: the carriers' REST APIs
(outbound calls, SMS, number import) and the hosted embedding models. Path ids are mostly
rewritten to rows seeded for the run, so operations reach their services rather than a 404.
Deletions run last, in their own test, and never delete the key the run uses.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from organizations.models import Organization, Role
from organizations.services import (
    api_key_create,
    member_add,
    organization_create,
    user_get_or_create,
)
from tests.fakes import gemini_http, openai_http, plivo_rest, twilio_rest
from tests.servers import ROOT, DaphneServer

SEED = 20260601
MAX_EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OUR_NUMBER = "+14155550100"
CUSTOMER = "+14155550199"

# The django_db mark makes pytest-django create the test database; the rows the run needs are
# committed by the module's fixtures, outside the test's (unused) transaction.
pytestmark = [pytest.mark.timeout(600), pytest.mark.django_db]
# Hypothesis' caches (constants, unicode tables) go under var/, not the work tree's root.
set_hypothesis_home_dir(ROOT / "var" / "hypothesis")


@dataclass
class FuzzRun:
    """The live server, the run's credential, the rows ids are mapped to, and the figures."""

    base_url: str
    key: str
    key_id: int
    ids: dict[str, list[int]]
    started: float = field(default_factory=time.monotonic)
    cases: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    phases: Counter = field(default_factory=Counter)
    waited: float = 0.0  # seconds spent waiting for the server's answers

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def prepare(self, case: schemathesis.Case) -> None:
        """Point most generated ids at the seeded rows (the rest stay as drawn, to meet 404s),
        and never let a deletion revoke the run's own key."""
        path = case.operation.path
        for name, value in list((case.path_parameters or {}).items()):
            # The coverage phase sends path values as strings.
            number = _as_id(value)
            if number is None:
                continue
            pool = self.ids.get(_resource_of(path, name), [])
            if pool and number % 4:
                number = pool[number % len(pool)]
            if path == "/api/v1/api-keys/{id}/" and number == self.key_id:
                number = self.ids["api-keys"][0]
            case.path_parameters[name] = number if isinstance(value, int) else str(number)
        if isinstance(case.body, dict):
            for name, resource in (("agent_id", "agents"), ("call_id", "calls")):
                value = case.body.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value % 4:
                    case.body[name] = self.ids[resource][value % len(self.ids[resource])]

    def run(self, case: schemathesis.Case) -> None:
        self.prepare(case)
        self.cases[f"{case.operation.method.upper()} {case.operation.path}"] += 1
        response = case.call(base_url=self.base_url, headers=self.headers, timeout=30)
        self.statuses[response.status_code] += 1
        self.waited += response.elapsed  # seconds
        self.phases[case.meta.phase.name.value if case.meta else "?"] += 1
        # Every case carries the run's valid key: a 401 means the run revoked it.
        assert response.status_code != 401, f"the run's key was refused: {response.text}"
        case.validate_response(response, checks=CHECKS, headers=self.headers)


def _as_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _resource_of(path: str, parameter: str) -> str:
    """Which seeded rows a path parameter names: ``/api/v1/agents/{id}/versions/{number}/``'s
    ``id`` is an agent, its ``number`` a version."""
    parts = path.removeprefix("/api/v1/").strip("/").split("/")
    if parameter == "number":
        return "versions"
    if parameter == "member_id":
        return "members"
    if parameter == "kb_id":
        return "knowledge-bases"
    if parameter == "id" and "documents" in parts:
        return "documents"
    return parts[0]


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    with (
        twilio_rest.FakeTwilioRest() as twilio,
        plivo_rest.FakePlivoRest() as plivo,
        openai_http.FakeOpenAIEmbeddings() as openai,
        gemini_http.FakeGeminiEmbeddings() as gemini,
    ):
        twilio.add_number(OUR_NUMBER, friendly_name="Main line")
        plivo.add_number("+14155550101", alias="Plivo line")
        yield {"twilio": twilio, "plivo": plivo, "openai": openai, "gemini": gemini}


@pytest.fixture(scope="module")
def fuzz_org(django_db_setup, django_db_blocker) -> Iterator[Organization]:
    """An organization of the run's own: the run changes its settings and adds members, which
    no other test should see."""
    with django_db_blocker.unblock():
        org = organization_create(name="Schema fuzz", slug="schemafuzz", industry="testing")
        yield org
        org.refresh_from_db()
        org.delete(force_drop=True)


@pytest.fixture(scope="module")
def fuzz_server(fuzz_org, fakes) -> Iterator[DaphneServer]:
    server = DaphneServer(
        env={
            "TWILIO_ACCOUNT_ID": fakes["twilio"].account_sid,
            "TWILIO_AUTH_TOKEN": fakes["twilio"].auth_token,
            "TWILIO_API_BASE_URL": fakes["twilio"].base_url,
            "PLIVO_AUTH_ID": fakes["plivo"].auth_id,
            "PLIVO_AUTH_TOKEN": fakes["plivo"].auth_token,
            "PLIVO_API_BASE_URL": fakes["plivo"].base_url,
            "OPENAI_API_KEY": openai_http.API_KEY,
            "OPENAI_BASE_URL": fakes["openai"].base_url,
            "GEMINI_API_KEY": gemini_http.API_KEY,
            "GEMINI_BASE_URL": fakes["gemini"].base_url,
            "HUME_API_KEY": "",
            # Tasks (outbound dialing, ingestion) run inside the request, not on a broker.
            "CELERY_TASK_ALWAYS_EAGER": "true",
            # The run sends thousands of requests with one key: no throttling in the way.
            "API_RATE_LIMIT": "1000000/min",
            # Thousands of requests: keep connections instead of opening one per request.
            "DB_POOL": "true",
            "DB_POOL_MAX": "4",
        },
        # What `make run` serves with. (Daphne's HTTP layer, Twisted, parses multipart bodies
        # itself and answers one it cannot parse with a bare 400 before the application sees
        # it: a response no schema of ours can describe.)
        server="uvicorn",
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzz_run(fuzz_server, fuzz_org, django_db_blocker, request) -> Iterator[FuzzRun]:
    with django_db_blocker.unblock():
        key, raw = api_key_create(organization=fuzz_org, name="schema fuzz", role=Role.OWNER)
        spare, _raw = api_key_create(organization=fuzz_org, name="spare", role=Role.VIEWER)
        for email, role in (
            ("owner@fuzz.example", Role.OWNER),
            ("agent@fuzz.example", Role.MEMBER),
        ):
            member_add(organization=fuzz_org, user=user_get_or_create(email=email), role=role)
    run = FuzzRun(base_url=fuzz_server.base_url, key=raw, key_id=key.pk, ids={})
    run.ids = _seed(run, fuzz_org)
    run.ids["api-keys"] = [spare.pk]
    failed_before = request.session.testsfailed
    yield run
    elapsed = time.monotonic() - run.started
    failed = request.session.testsfailed - failed_before
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\nschema fuzz: {len(run.cases)} operations, {sum(run.cases.values())} cases, "
                f"{failed} failed tests, {elapsed:.0f} s ({run.waited:.0f} s waiting for the "
                "server); "
                f"phases {dict(run.phases)}; statuses {dict(sorted(run.statuses.items()))}"
            )


def _seed(run: FuzzRun, org: Organization) -> dict[str, list[int]]:
    """A row of each kind, made through the API itself."""
    with httpx.Client(base_url=f"{run.base_url}/api/v1", headers=run.headers, timeout=60) as api:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = api.post(path, json=body)
            assert response.status_code in (200, 201, 202), (path, response.text)
            return response.json()

        agent = post("/agents/", {"name": "Fuzzed agent", "system_prompt": "Be brief."})
        api.patch(f"/agents/{agent['id']}/", json={"first_message": "Hello!"})
        other_agent = post("/agents/", {"name": "Second agent"})
        kb = post("/knowledge-bases/", {"name": "Fuzzed knowledge"})
        document = post(
            f"/knowledge-bases/{kb['id']}/documents/",
            {"title": "Opening hours", "content": "We open at nine and close at five."},
        )
        api.patch(
            f"/knowledge-bases/{kb['id']}/documents/{document['id']}/",
            json={"content": "We open at eight and close at six."},
        )
        number = post(
            "/phone-numbers/",
            {"number": OUR_NUMBER, "agent_id": agent["id"], "provider_id": "PN0"},
        )
        call = post("/calls/", {"agent_id": agent["id"], "to_phone": CUSTOMER})
        message = post(
            "/messages/",
            {"body": "Thanks for calling.", "to_number": CUSTOMER, "from_number": OUR_NUMBER},
        )
        members = api.get(f"/organizations/{org.pk}/members/").json()["results"]
    return {
        "agents": [agent["id"], other_agent["id"]],
        "versions": [1, 2],
        "knowledge-bases": [kb["id"]],
        "documents": [document["id"]],
        "phone-numbers": [number["id"]],
        "calls": [call["id"]],
        "messages": [message["id"]],
        "organizations": [org.pk],
        "members": [m["id"] for m in members],
    }


def _schema_under_test() -> schemathesis.BaseSchema:
    """The schema ``/api/schema/`` serves, generated here at collection time so that each
    operation is a test of its own (the live server's copy is compared with it below)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # A 502 or 503 is an upstream's failure (a carrier, an embedding provider) answered
            # on purpose in the error shape; status_code_conformance still requires the
            # operation to document it. Any other 5xx fails the run.
            "checks": {
                "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502", "503"]}
            },
            # The coverage phase also sends methods an operation does not have: OPTIONS (whose
            # answer runs the permission checks) and PUT (no route takes it) are enough.
            "phases": {"coverage": {"unexpected-methods": ["OPTIONS", "PUT"]}},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,
            },
        }
    )
    return schemathesis.openapi.from_dict(
        json.loads(OpenApiJsonRenderer().render(document, renderer_context={})), config=config
    )


schema = _schema_under_test()


def test_the_live_server_serves_the_schema_under_test(fuzz_run):
    served = httpx.get(f"{fuzz_run.base_url}/api/schema/?format=json", timeout=30)

    assert served.status_code == 200
    assert _differences(served.json(), schema.raw_schema) == []


def _differences(served: Any, expected: Any, path: str = "") -> list[str]:
    """The JSON paths where two documents differ (the first few)."""
    if isinstance(served, dict) and isinstance(expected, dict):
        found = [
            difference
            for key in sorted(set(served) | set(expected))
            for difference in _differences(served.get(key), expected.get(key), f"{path}/{key}")
        ]
        return found[:10]
    if isinstance(served, list) and isinstance(expected, list) and len(served) == len(expected):
        pairs = zip(served, expected, strict=True)
        return [d for i, (a, b) in enumerate(pairs) for d in _differences(a, b, f"{path}[{i}]")]
    return [] if served == expected else [f"{path}: {served!r:.80} != {expected!r:.80}"]


@schema.exclude(method="DELETE").parametrize()
def test_every_operation_answers_as_its_schema_says(case, fuzz_run):
    fuzz_run.run(case)


@schema.include(method="DELETE").parametrize()
def test_every_deletion_answers_as_its_schema_says(case, fuzz_run):
    fuzz_run.run(case)
