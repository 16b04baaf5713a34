"""The batch admin on an organization's domain: import a CSV or XLSX with a preview step
(django-import-export's views), confirm, read the batch and download its report; the
do-not-call list."""

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from calls.models import Batch, BatchRow, DoNotCallEntry

pytestmark = pytest.mark.django_db

BASE = "/admin/calls/"
CSV_TEXT = 'Phone;Name;Note\n+14155550101;Ada;"two\nlines"\nnope;Bob;\n+14155550101;Ada;again\n'


def admin_client(org, make_member, role):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org, role))
    return client


@pytest.fixture
def member(org_a, make_member):
    return admin_client(org_a, make_member, "member")


def preview(client, agent, data: bytes, file_name: str, format_index: str, **fields):
    return client.post(
        f"{BASE}batch/import/",
        {
            "import_file": SimpleUploadedFile(file_name, data),
            "format": format_index,
            "resource": "0",
            "agent": str(agent.pk),
            "column_mapping": '{"phone": "Phone", "customer_name": "Name"}',
            **fields,
        },
    )


def confirm(client, response):
    form = response.context["confirm_form"]
    data = {name: form.initial.get(name) or "" for name in form.fields}
    return client.post(f"{BASE}batch/process_import/", data)


def test_a_csv_import_is_previewed_then_confirmed(member, alpha, batch_agent):
    page = member.get(f"{BASE}batch/import/")
    assert page.status_code == 200
    assert "Agent" in page.content.decode()

    shown = preview(member, batch_agent, CSV_TEXT.encode(), "june.csv", "0", name="June")

    assert shown.status_code == 200, shown.content
    html = shown.content.decode()
    assert "preview of data to be imported" in html and "Confirm import" in html
    assert (
        "Duplicate of line 2." in html and "&#x27;nope&#x27; is not a valid phone number." in html
    )
    result = shown.context["result"]
    assert [row.diff[:3] for row in result.rows] == [
        [2, "queued", "+14155550101"],
        [4, "invalid", ""],
        [5, "skipped", "+14155550101"],
    ]
    with alpha():
        assert not Batch.objects.exists()  # the preview was rolled back

    done = confirm(member, shown)

    with alpha():
        batch = Batch.objects.get()
        lines = list(
            BatchRow.objects.filter(batch=batch)
            .order_by("line_number")
            .values_list("line_number", "status")
        )
    assert done.status_code == 302
    assert done["Location"] == f"{BASE}batch/{batch.pk}/change/"
    assert (batch.name, batch.source, batch.source_name) == ("June", "admin", "june.csv")
    assert lines == [(2, "queued"), (4, "invalid"), (5, "skipped")]  # a quoted newline: line 3
    assert (batch.total_count, batch.queued_count) == (3, 1)


def test_an_xlsx_import(member, alpha, batch_agent):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name"])
    sheet.append([14155550101, "Ada"])
    sheet.append(["+14155550102", None])
    buffer = io.BytesIO()
    book.save(buffer)

    shown = preview(member, batch_agent, buffer.getvalue(), "june.xlsx", "1")
    assert shown.status_code == 200, shown.content
    confirm(member, shown)

    with alpha():
        batch = Batch.objects.get()
        rows = list(
            BatchRow.objects.filter(batch=batch)
            .order_by("line_number")
            .values_list("line_number", "status", "phone_number", "error")
        )
    assert rows == [
        (2, "queued", "+14155550101", ""),
        (3, "invalid", "", "Missing prompt variable: customer_name."),
    ]


def test_an_import_the_service_refuses_shows_why_and_offers_no_confirm(member, batch_agent):
    shown = preview(
        member,
        batch_agent,
        b"Who;Name\nx;y\n",
        "bad.csv",
        "0",
        column_mapping="",
    )

    assert shown.status_code == 200
    assert "No phone column found" in shown.content.decode()
    assert "confirm_form" not in shown.context or shown.context["confirm_form"] is None


def test_the_batch_page_and_its_report(member, alpha, batch_agent):
    confirm(member, preview(member, batch_agent, CSV_TEXT.encode(), "june.csv", "0"))
    with alpha():
        batch = Batch.objects.get()

    page = member.get(f"{BASE}batch/{batch.pk}/change/")
    report = member.get(f"{BASE}batch/{batch.pk}/report/")
    listing = member.get(f"{BASE}batch/")
    rows = member.get(f"{BASE}batchrow/?batch__id__exact={batch.pk}")

    assert page.status_code == 200 and "Download the report" in page.content.decode()
    assert "% done" in page.content.decode()
    assert report.status_code == 200
    text = b"".join(report.streaming_content).decode()
    assert text.splitlines()[0].startswith("line_number,Phone,Name,Note,status")
    assert listing.status_code == 200 and "Import" in listing.content.decode()
    assert rows.status_code == 200


def test_a_viewer_cannot_import(org_a, make_member):
    viewer = admin_client(org_a, make_member, "viewer")

    assert viewer.get(f"{BASE}batch/import/").status_code == 403
    assert viewer.get(f"{BASE}batch/").status_code == 200


def test_the_do_not_call_list_in_the_admin(member, alpha, org_a, make_member):
    added = member.post(
        f"{BASE}donotcallentry/add/", {"number": "(415) 555-0101", "reason": "asked"}
    )
    again = member.post(f"{BASE}donotcallentry/add/", {"number": "+14155550101"})

    assert added.status_code == 302, added.content
    assert again.status_code == 200 and "on the list already" in again.content.decode()
    with alpha():
        entry = DoNotCallEntry.objects.get()
    assert (entry.number, entry.source) == ("+14155550101", "admin")
    assert (
        member.post(f"{BASE}donotcallentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    admin = admin_client(org_a, make_member, "admin")
    assert (
        admin.post(f"{BASE}donotcallentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 302
    )
    with alpha():
        assert not DoNotCallEntry.objects.exists()
