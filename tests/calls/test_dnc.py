"""The do-not-call list: its API (numbers normalized, duplicates refused, roles), the CSV
import with its line-numbered problems, and batches skipping listed numbers."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import DoNotCallEntry
from organizations.models import Organization

pytestmark = pytest.mark.django_db

ADA = "+14155550101"


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


@pytest.fixture
def admin(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


def test_numbers_are_added_normalized_and_listed(member, alpha):
    created = member.post(
        "/api/v1/dnc/", {"number": "(415) 555-0101", "reason": "asked"}, format="json"
    )
    again = member.post("/api/v1/dnc/", {"number": "+1 415 555 0101"}, format="json")
    bad = member.post("/api/v1/dnc/", {"number": "12"}, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["number"] == ADA  # a national number, read in the default region (US)
    assert (created.json()["reason"], created.json()["source"]) == ("asked", "api")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "dnc_entry_exists"
    assert again.json()["error"]["details"] == {"number": ADA, "id": created.json()["id"]}
    assert bad.status_code == 400 and "number" in bad.json()["error"]["details"]["fields"]
    listed = member.get("/api/v1/dnc/?number=555-0101").json()["results"]
    assert [entry["number"] for entry in listed] == [ADA]


def test_an_entry_is_read_changed_and_removed_by_an_admin_only(
    member, admin, org_a, make_api_key, bearer
):
    entry_id = member.post("/api/v1/dnc/", {"number": ADA}, format="json").json()["id"]
    url = f"/api/v1/dnc/{entry_id}/"
    viewer = bearer(make_api_key(org_a, "viewer"))

    assert viewer.get(url).json()["number"] == ADA
    assert viewer.post("/api/v1/dnc/", {"number": "+14155550102"}, format="json").status_code == 403
    changed = member.patch(url, {"reason": "lawyer letter"}, format="json")
    assert changed.status_code == 200 and changed.json()["reason"] == "lawyer letter"
    assert member.delete(url).status_code == 403  # removing lets a number be called again
    assert admin.delete(url).status_code == 204
    assert admin.get(url).status_code == 404


def test_a_csv_import_adds_new_numbers_counts_known_ones_and_reports_bad_lines(member, alpha):
    member.post("/api/v1/dnc/", {"number": ADA}, format="json")
    text = (
        "Name;Phone;Reason\n"  # 1
        "Ada;+1 415 555 0101;again\n"  # 2: listed already
        "Bob;4155550102;moved\n"  # 3: added (national number)
        "Cy;not a number;\n"  # 4: invalid
        'Dee;"+14155550103\n'  # 5: broken (never-closed quote)
        "Eve;+14155550104;\n"  # 6: added
        "Eve again;+14155550104;\n"  # 7: a duplicate in the file
    )
    response = member.post(
        "/api/v1/dnc/import/",
        {"file": SimpleUploadedFile("dnc.csv", text.encode())},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "added": 2,
        "already_listed": 2,
        "invalid": 2,
        "problems": [
            {"line": 4, "value": "not a number", "reason": "Not a valid phone number."},
            {"line": 5, "value": "", "reason": "Unreadable line: a quoted field is never closed."},
        ],
    }
    with alpha():
        entries = dict(DoNotCallEntry.objects.values_list("number", "reason"))
        sources = set(DoNotCallEntry.objects.values_list("source", flat=True))
    assert entries == {ADA: "", "+14155550102": "moved", "+14155550104": ""}
    assert sources == {"api", "csv"}


def test_a_plain_list_of_numbers_without_a_header_imports_every_line(member, alpha):
    response = member.post(
        "/api/v1/dnc/import/",
        {"file": SimpleUploadedFile("dnc.txt", b"+14155550101\n+14155550102\n")},
        format="multipart",
    )

    assert response.json()["added"] == 2
    with alpha():
        assert DoNotCallEntry.objects.count() == 2


def test_a_batch_skips_numbers_on_the_list_as_it_imports(member, batch_agent, alpha):
    member.post("/api/v1/dnc/", {"number": "4155550102"}, format="json")
    text = f"phone,customer_name\n{ADA},Ada\n(415) 555-0102,Bob\n"
    batch = member.post(
        "/api/v1/batches/",
        {"agent_id": batch_agent.pk, "file": SimpleUploadedFile("b.csv", text.encode())},
        format="multipart",
    ).json()
    rows = member.get(f"/api/v1/batches/{batch['id']}/rows/?status=skipped").json()["results"]

    assert batch["counts"]["skipped"] == 1
    assert [(row["line_number"], row["error"]) for row in rows] == [(3, "On the do-not-call list.")]


def test_numbers_follow_the_organizations_default_region(member, org_a):
    Organization.objects.filter(pk=org_a.pk).update(default_region="GB")
    try:
        response = member.post("/api/v1/dnc/", {"number": "020 7946 0958"}, format="json")
    finally:
        Organization.objects.filter(pk=org_a.pk).update(default_region="US")

    assert response.status_code == 201, response.content
    assert response.json()["number"] == "+442079460958"


def test_the_default_region_is_an_organization_setting(org_a, make_api_key, bearer):
    owner = bearer(make_api_key(org_a, "owner"))
    url = f"/api/v1/organizations/{org_a.pk}/"

    assert owner.get(url).json()["default_region"] == "US"
    bad = owner.patch(url, {"default_region": "XX"}, format="json")
    good = owner.patch(url, {"default_region": "DE"}, format="json")
    Organization.objects.filter(pk=org_a.pk).update(default_region="US")

    assert bad.status_code == 400 and "default_region" in bad.json()["error"]["details"]["fields"]
    assert good.status_code == 200 and good.json()["default_region"] == "DE"
