"""The batch admin's live progress: the bar on the batch's page and in the list, the script
that refreshes it, and the read-only JSON endpoint it polls (values follow the rows, another
organization's batch is a 404, people who are not members are refused)."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from calls import services
from calls.models import Batch, BatchRow, BatchRowStatus, BatchStatus, PhoneNumber
from tests.calls.batch_support import make_batch

pytestmark = pytest.mark.django_db

BASE = "/admin/calls/batch/"


def client_for(host, user=None):
    client = Client(HTTP_HOST=host)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def viewer(org_a, make_member):
    return client_for("alpha.localhost", make_member(org_a, "viewer"))


@pytest.fixture
def batch(alpha, batch_agent):
    with alpha():
        number = PhoneNumber.objects.get(number="+14155550100")
        return make_batch(agent=batch_agent, number=number, phones=4, name="June")


def progress(client, batch_id):
    response = client.get(f"{BASE}{batch_id}/progress/")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def finish_rows(batch, count, to_status=BatchRowStatus.COMPLETED):
    """Move ``count`` queued rows to ``to_status`` the way the dispatcher and callbacks do
    (counters with them)."""
    ids = list(
        BatchRow.objects.filter(batch=batch, status=BatchRowStatus.QUEUED)
        .order_by("line_number")
        .values_list("pk", flat=True)[:count]
    )
    services.batch_rows_transition(
        batch_id=batch.pk,
        rows=BatchRow.objects.filter(pk__in=ids),
        from_status=BatchRowStatus.QUEUED,
        to_status=to_status,
    )


def test_the_progress_endpoint_follows_the_rows_until_the_batch_is_final(viewer, alpha, batch):
    draft = progress(viewer, batch.pk)
    assert (draft["status"], draft["final"], draft["percent"]) == ("draft", False, 0.0)
    assert draft["counts"]["queued"] == 4
    assert draft["poll_ms"] == 10000  # a draft waits for someone: polled rarely
    assert draft["fields"]["summary"] == "0.0% done: 0 of 4 rows"

    with alpha():
        Batch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.RUNNING, started_at=timezone.now() - dt.timedelta(minutes=1)
        )
        finish_rows(batch, 1)
        finish_rows(batch, 1, BatchRowStatus.FAILED)
    running = progress(viewer, batch.pk)

    assert (running["status"], running["final"], running["poll_ms"]) == ("running", False, 2000)
    assert running["percent"] == 50.0
    assert (running["finished"], running["total"]) == (2, 4)
    assert running["counts"] == {
        "queued": 2,
        "in_progress": 0,
        "completed": 1,
        "failed": 1,
        "invalid": 0,
        "skipped": 0,
        "canceled": 0,
    }
    assert running["rate_per_minute"] == pytest.approx(2.0, rel=0.1)  # 2 rows in about 1 min
    assert running["eta_seconds"] and running["eta_seconds"] > 0
    assert running["fields"]["summary"] == "50.0% done: 2 of 4 rows"
    assert running["fields"]["eta"].startswith("about ")

    with alpha():
        finish_rows(batch, 2)
        Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.COMPLETED)
    done = progress(viewer, batch.pk)

    assert (done["status"], done["final"], done["poll_ms"], done["percent"]) == (
        "completed",
        True,
        None,  # the script stops polling
        100.0,
    )
    assert done["counts"]["completed"] == 3


def test_the_progress_endpoint_is_read_only(viewer, batch):
    assert viewer.post(f"{BASE}{batch.pk}/progress/").status_code == 405


def test_another_organizations_batch_is_not_found(
    viewer, batch, org_b, make_agent, make_number, alpha
):
    with tenant_context(org_b):
        agent = make_agent(name="B's caller")
        number = make_number("+14155550188", agent=agent)
        theirs = [make_batch(agent=agent, number=number, phones=1, name="B's") for _ in range(3)]
    with alpha():
        ours = set(Batch.objects.values_list("pk", flat=True))
    (missing,) = [b for b in theirs if b.pk not in ours][:1]

    assert viewer.get(f"{BASE}{missing.pk}/progress/").status_code == 404
    # An id both organizations have is alpha's batch on alpha's domain.
    assert progress(viewer, batch.pk)["id"] == batch.pk
    assert progress(viewer, batch.pk)["fields"]["summary"].endswith("of 4 rows")


def test_people_who_are_not_members_are_refused(batch, org_b, make_member):
    anonymous = client_for("alpha.localhost")
    stranger = client_for("alpha.localhost", make_member(org_b, "owner"))  # beta's owner

    for client in (anonymous, stranger):
        response = client.get(f"{BASE}{batch.pk}/progress/")
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_the_batch_page_and_the_list_show_the_bar_and_load_the_script(viewer, batch):
    page = viewer.get(f"{BASE}{batch.pk}/change/")
    listing = viewer.get(BASE)

    for response in (page, listing):
        assert response.status_code == 200
        html = response.content.decode()
        assert "<progress" in html and "data-batch-progress" in html
        assert f'data-url="{BASE}{batch.pk}/progress/"' in html
        assert 'src="/static/calls/batch_progress.js"' in html
        assert "/static/calls/batch_progress.css" in html
    page_html = page.content.decode()
    assert "0.0% done: 0 of 4 rows" in page_html
    assert 'data-field="queued">4<' in page_html
    listing_html = listing.content.decode()
    assert "batch-progress-compact" in listing_html
    # The list's status and counters are kept current with the bar.
    assert f'data-progress-of="{batch.pk}" data-field="status">Draft<' in listing_html
    assert f'data-progress-of="{batch.pk}" data-field="queued">4<' in listing_html


def test_the_script_and_its_styles_are_served_locally():
    from django.contrib.staticfiles import finders

    script = finders.find("calls/batch_progress.js")
    assert script, "static/calls/batch_progress.js is not found by staticfiles"
    with open(script, encoding="utf-8") as file:
        text = file.read()
    assert "data-batch-progress" in text and "fetch(" in text
    assert "http://" not in text and "https://" not in text  # no CDN, nothing remote
    assert finders.find("calls/batch_progress.css")
