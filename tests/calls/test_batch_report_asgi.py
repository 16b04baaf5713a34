"""The batch report from a real ASGI server (uvicorn, as ``make run`` serves, and daphne): the
chunks are made on the database thread in the organization's schema while the response
streams, for a batch of several chunks."""

import csv
import io

import httpx
import pytest
from django_tenants.utils import tenant_context

from agents.services import agent_create
from calls import services
from calls.models import Batch
from calls.selectors import batch_report_header
from organizations.models import Organization
from organizations.services import api_key_create

pytestmark = pytest.mark.usefixtures("committed_db")

ROWS = 4500  # three chunks of the report


@pytest.mark.parametrize("server_name", ["uvicorn_server", "daphne"])
def test_the_report_streams_from_an_asgi_server(request, server_name):
    server = request.getfixturevalue(server_name)
    org_a = Organization.objects.get(slug="alpha")  # committed rows: no test transaction
    text = "phone,name\n" + "".join(f"+1415556{i:04d},N{i}\n" for i in range(ROWS))
    with tenant_context(org_a):
        agent = agent_create(name="Reporter", system_prompt="Hello {{name}}.")
        services.phone_number_create(number="+14155550100", agent_id=agent.pk)
        batch = services.batch_create(
            agent_id=agent.pk,
            source=services.UploadSource(file=io.BytesIO(text.encode()), name="big.csv"),
        )
    _key, key = api_key_create(organization=org_a, name="report", role="viewer")

    chunks = []
    with httpx.stream(
        "GET",
        f"{server.base_url}/api/v1/batches/{batch.pk}/report.csv",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        chunks = list(response.iter_bytes())

    lines = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert len(lines) == ROWS + 1
    assert lines[1][:3] == ["2", "+14155560000", "N0"]
    assert lines[-1][:3] == [str(ROWS + 1), f"+1415556{ROWS - 1:04d}", f"N{ROWS - 1}"]


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does, for the module's committed_db test.
@pytest.mark.django_db
def test_report_columns_an_input_already_has_are_prefixed():
    header = batch_report_header(batch=Batch(columns=["phone", "status", "line_number"]))

    assert header[:4] == ["batch_line_number", "phone", "status", "line_number"]
    assert header[4:6] == ["batch_status", "outcome"]
