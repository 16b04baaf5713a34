"""Creating a batch from its input: column mapping (explicit and guessed), every kind of
invalid and skipped row with its line number and reason, the do-not-call list, duplicates,
national numbers, time zones, caller id, the settings' rules, exact counters, and a 20 MB file
with a broken line in the middle."""

import datetime as dt

import pytest

from calls import services
from calls.exceptions import BatchEmpty, BatchSourceTooLarge, NoCallerId
from calls.models import Batch, BatchRow, BatchStatus, DoNotCallEntry, PhoneNumber
from organizations.models import Organization
from tests.calls.batch_input_support import (
    assert_counters_exact,
    create,
    csv_upload,
    stored,
)
from voiceagents.exceptions import ValidationFailed

pytestmark = pytest.mark.django_db

ADA, BOB, CY = "+14155550101", "+14155550102", "+14155550103"


def fields_of(exc: pytest.ExceptionInfo) -> dict:
    return exc.value.details["fields"]


# --- mapping ------------------------------------------------------------------------------------


def test_an_explicit_mapping_picks_phone_time_zone_and_variables_and_keeps_every_column(
    alpha, batch_agent
):
    text = "Mobile,Name,TZ,Plan\n+14155550101,Ada,Europe/Paris,gold\n"
    with alpha():
        batch = create(
            batch_agent,
            csv_upload(text),
            column_mapping={"phone": "Mobile", "timezone": "TZ", "customer_name": "Name"},
        )
        (row,) = BatchRow.objects.filter(batch=batch)

    assert batch.columns == ["Mobile", "Name", "TZ", "Plan"]
    assert batch.column_mapping == {"phone": "Mobile", "timezone": "TZ", "customer_name": "Name"}
    assert (row.phone_number, row.timezone, row.status) == (ADA, "Europe/Paris", "queued")
    assert row.variables == {"customer_name": "Ada"}  # only mapped columns are variables
    assert row.raw == {"Mobile": ADA, "Name": "Ada", "TZ": "Europe/Paris", "Plan": "gold"}


def test_without_a_mapping_the_phone_column_is_guessed_and_other_columns_become_variables(
    alpha, batch_agent
):
    text = "Customer Name,Phone Number,Time Zone\nAda,+14155550101,america/new_york\n"
    with alpha():
        batch = create(batch_agent, csv_upload(text))
        (row,) = BatchRow.objects.filter(batch=batch)

    assert row.phone_number == ADA
    assert row.timezone == "America/New_York"  # the zone's spelling is corrected
    assert row.variables == {"customer_name": "Ada"}


@pytest.mark.parametrize("header", ["phone", "number", "to", "mobile", "msisdn", "Tel"])
def test_common_phone_column_names_are_recognised(alpha, batch_agent, header):
    with alpha():
        batch = create(batch_agent, csv_upload(f"{header},customer_name\n{ADA},Ada\n"))
        assert stored(batch) == [(2, "queued", ADA, "")]


def test_a_mapping_naming_a_column_the_file_lacks_is_refused_naming_column_mapping(
    alpha, batch_agent
):
    with alpha(), pytest.raises(ValidationFailed) as exc:
        create(
            batch_agent,
            csv_upload("phone,name\n+14155550101,Ada\n"),
            column_mapping={"phone": "Phone", "customer_name": "name"},
        )
    assert "Phone" in fields_of(exc)["column_mapping"][0]
    assert exc.value.details["columns"] == ["phone", "name"]
    with alpha():
        assert not Batch.objects.exists()


def test_a_file_without_a_recognisable_phone_column_is_refused(alpha, batch_agent):
    with alpha(), pytest.raises(ValidationFailed) as exc:
        create(batch_agent, csv_upload("who,customer_name\n+14155550101,Ada\n"))
    assert "No phone column" in fields_of(exc)["column_mapping"][0]


def test_a_prompt_variable_no_column_provides_is_refused_before_any_row(alpha, batch_agent):
    with alpha(), pytest.raises(ValidationFailed) as exc:
        create(batch_agent, csv_upload("phone,first\n+14155550101,Ada\n"))
    assert "{{customer_name}}" in fields_of(exc)["column_mapping"][0]
    assert exc.value.details["missing_variables"] == ["customer_name"]


@pytest.mark.parametrize(
    "mapping",
    [["phone"], {"name": "Name"}, {"phone": ""}, {"9lives": "x", "phone": "p"}],
)
def test_a_malformed_mapping_is_refused(alpha, batch_agent, mapping):
    with alpha(), pytest.raises(ValidationFailed) as exc:
        create(batch_agent, csv_upload(f"phone,customer_name\n{ADA},Ada\n"), column_mapping=mapping)
    assert "column_mapping" in fields_of(exc)


# --- rows: invalid, skipped, queued --------------------------------------------------------------


def test_every_invalid_and_skipped_row_keeps_its_line_number_and_reason(alpha, batch_agent):
    text = (
        "phone,customer_name,timezone\n"  # 1
        f"{ADA},Ada,\n"  # 2 queued
        "not a number,Bob,\n"  # 3 invalid: bad number
        ",Cy,\n"  # 4 invalid: no number
        f"{BOB},,\n"  # 5 invalid: missing variable
        f"{CY},Cy,Mars/Olympus\n"  # 6 invalid: bad time zone
        f'{CY},"Cy"x,\n'  # 7 invalid: broken line
        f"{ADA},Ada again,\n"  # 8 skipped: duplicate of 2
        "+14155550104,Dee,\n"  # 9 skipped: do not call
        f"{CY},Cy,\n"  # 10 queued (the earlier CY rows were invalid)
    )
    with alpha():
        DoNotCallEntry.objects.create(number="+14155550104")
        batch = create(batch_agent, csv_upload(text))
        rows = stored(batch)
        assert_counters_exact(batch)

    assert rows == [
        (2, "queued", ADA, ""),
        (3, "invalid", "", "'not a number' is not a valid phone number."),
        (4, "invalid", "", "No phone number."),
        (5, "invalid", "", "Missing prompt variable: customer_name."),
        (6, "invalid", "", "'Mars/Olympus' is not an IANA time zone (e.g. America/New_York)."),
        (7, "invalid", "", "Unreadable line: ',' expected after '\"'."),
        (8, "skipped", ADA, "Duplicate of line 2."),
        (9, "skipped", "+14155550104", "On the do-not-call list."),
        (10, "queued", CY, ""),
    ]
    assert (batch.total_count, batch.queued_count, batch.invalid_count, batch.skipped_count) == (
        9,
        2,
        5,
        2,
    )
    assert batch.status == BatchStatus.DRAFT


def test_duplicates_are_found_however_the_number_is_written(alpha, batch_agent):
    text = "phone,customer_name\n+1 (415) 555-0101,Ada\n4155550101,Ada\n+14155550101,Ada\n"
    with alpha():
        batch = create(batch_agent, csv_upload(text))
        rows = stored(batch)

    assert rows == [
        (2, "queued", ADA, ""),
        (3, "skipped", ADA, "Duplicate of line 2."),
        (4, "skipped", ADA, "Duplicate of line 2."),
    ]


def test_national_numbers_are_read_in_the_organizations_default_region(alpha, batch_agent):
    text = "phone,customer_name\n020 7946 0958,Ada\n"
    with alpha() as org:
        org.default_region = "GB"
        org.save(update_fields=["default_region"])
        try:
            batch = create(batch_agent, csv_upload(text))
        finally:
            Organization.objects.filter(pk=org.pk).update(default_region="US")
        (row,) = BatchRow.objects.filter(batch=batch)

    assert (row.phone_number, row.timezone) == ("+442079460958", "Europe/London")


def test_a_row_without_a_time_zone_column_gets_the_numbers_zone_when_it_has_one(alpha, batch_agent):
    text = "phone,customer_name\n+12125550100,Ada\n+33142685300,Bob\n+18005550100,Cy\n"
    with alpha():
        batch = create(batch_agent, csv_upload(text))
        zones = list(
            BatchRow.objects.filter(batch=batch)
            .order_by("line_number")
            .values_list("timezone", flat=True)
        )

    # New York; Paris; a toll-free number has no single zone: the dialer uses the organization's.
    assert zones == ["America/New_York", "Europe/Paris", ""]


def test_the_do_not_call_check_is_one_query_per_chunk_of_rows(
    alpha, batch_agent, django_assert_max_num_queries
):
    lines = "".join(f"+1415556{i:04d},Name {i}\n" for i in range(2500))
    with alpha():
        DoNotCallEntry.objects.create(number="+14155560007")
        # agent, organization, number, config, batch insert, 2 chunks x (dnc + insert), counters
        with django_assert_max_num_queries(20):
            batch = create(batch_agent, csv_upload("phone,customer_name\n" + lines))
        assert (batch.queued_count, batch.skipped_count) == (2499, 1)


def test_an_input_without_rows_is_refused(alpha, batch_agent):
    with alpha(), pytest.raises(BatchEmpty):
        create(batch_agent, csv_upload("phone,customer_name\n\n\n"))
    with alpha():
        assert not Batch.objects.exists()


def test_a_json_file_and_inline_rows_are_numbered_by_position(alpha, batch_agent):
    json_text = (
        '[{"phone": "+14155550101", "customer_name": "Ada", "age": 36},\n'
        ' "not an object",\n'
        ' {"phone": 4155550102, "customer_name": "Bob"}]'
    )
    with alpha():
        from_file = create(batch_agent, csv_upload(json_text, name="rows.json"))
        inline = create(
            batch_agent,
            services.RowsSource(rows=[{"to": ADA, "customer_name": "Ada"}, {"to": "", "x": 1}]),
        )
        file_rows = stored(from_file)
        inline_rows = stored(inline)
        first = BatchRow.objects.get(batch=from_file, line_number=1)

    assert file_rows == [
        (1, "queued", ADA, ""),
        (2, "invalid", "", "Not an object of column names and values."),
        (3, "queued", BOB, ""),
    ]
    assert first.raw == {"phone": ADA, "customer_name": "Ada", "age": 36}
    assert first.variables == {"customer_name": "Ada", "age": 36}  # JSON numbers stay numbers
    assert from_file.columns == ["phone", "customer_name", "age"]
    assert inline_rows == [(1, "queued", ADA, ""), (2, "invalid", "", "No phone number.")]


def test_a_json_row_with_a_nul_character_is_invalid_not_a_crash(alpha, batch_agent):
    with alpha():
        batch = create(
            batch_agent,
            services.RowsSource(rows=[{"phone": ADA, "customer_name": "A\x00da"}]),
        )
        assert stored(batch) == [(1, "invalid", "", "The row contains a NUL character.")]


def test_a_file_over_the_size_limit_is_refused(alpha, batch_agent, settings):
    settings.BATCH_MAX_FILE_BYTES = 100
    with alpha(), pytest.raises(BatchSourceTooLarge) as exc:
        create(batch_agent, csv_upload("phone,customer_name\n" + f"{ADA},Ada\n" * 10))
    assert exc.value.status == 413
    assert exc.value.details == {"max_bytes": 100}


def test_a_20_mb_file_with_a_broken_line_in_the_middle_imports_the_rest(alpha, batch_agent):
    notes = "x" * 990
    rows = [f"+1415{5000000 + i:07d},Name {i},{notes}\n" for i in range(20_000)]
    middle = 10_000
    rows[middle] = f'+14159999999,"Broken {notes}\n'  # a quote that is never closed
    text = "phone,customer_name,notes\n" + "".join(rows)
    assert len(text) > 20_000_000
    with alpha():
        batch = create(batch_agent, csv_upload(text))
        broken = BatchRow.objects.get(batch=batch, status="invalid")
        assert_counters_exact(batch)

    assert (batch.total_count, batch.queued_count, batch.invalid_count) == (20_000, 19_999, 1)
    assert broken.line_number == middle + 2  # header is line 1
    assert "never closed" in broken.error or "more than 100 lines" in broken.error


# --- caller id and settings ----------------------------------------------------------------------


def test_the_caller_id_is_the_one_asked_for_else_the_default_rule(alpha, batch_agent, make_number):
    source = "phone,customer_name\n+14155550101,Ada\n"
    with alpha():
        other = make_number("+14155550177")
        chosen = create(batch_agent, csv_upload(source), from_number="+1 415 555 0177")
        default = create(batch_agent, csv_upload(source))

    assert chosen.from_number_id == other.pk
    assert default.from_number.number == "+14155550100"  # the agent's number


def test_a_batch_with_no_usable_caller_id_is_refused(alpha, make_agent, make_number):
    with alpha():
        agent = make_agent(system_prompt="Hello.")
        with pytest.raises(NoCallerId) as exc:
            create(agent, csv_upload(f"phone\n{ADA}\n"))
        assert "from_number" in exc.value.message
        make_number(agent=None)
        with pytest.raises(ValidationFailed) as other:
            create(agent, csv_upload(f"phone\n{ADA}\n"), from_number="+14155550199")
        assert "from_number" in other.value.details["fields"]
        assert not Batch.objects.exists()


def test_the_window_defaults_to_the_organizations_calling_hours(alpha, batch_agent):
    with alpha() as org:
        batch = create(batch_agent, csv_upload(f"phone,customer_name\n{ADA},Ada\n"))
        own = create(
            batch_agent,
            csv_upload(f"phone,customer_name\n{ADA},Ada\n"),
            settings_data={"window_start": "08:30", "window_end": None, "window_days": [4, 0, 0]},
        )

    assert (batch.window_start, batch.window_end) == (
        org.calling_window_start,
        org.calling_window_end,
    )
    assert (own.window_start, own.window_end, own.window_days) == (dt.time(8, 30), None, [0, 4])


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("max_concurrency", 0, "from 1"),
        ("max_concurrency", 11, "max_concurrent_calls (10)"),
        ("calls_per_second", -1, "at least 0"),
        ("calls_per_second", 11, "at most 10"),
        ("calls_per_second", "fast", "a number"),
        ("window_days", [7], "from 0 to 6"),
        ("window_start", "25:00", "HH:MM"),
        ("retry_outcomes", ["answered"], "not one of"),
        ("max_attempts", 0, "from 1 to 10"),
        ("retry_delay_seconds", -5, "from 0"),
        ("breaker_window", 0, "from 1"),
        ("breaker_threshold", 0, "more than 0"),
        ("breaker_threshold", 1.5, "at most 1"),
    ],
)
def test_each_setting_is_validated_with_a_400_naming_it(alpha, batch_agent, name, value, fragment):
    with alpha(), pytest.raises(ValidationFailed) as exc:
        create(
            batch_agent,
            csv_upload(f"phone,customer_name\n{ADA},Ada\n"),
            settings_data={name: value},
        )
    assert list(fields_of(exc)) == [name]
    assert fragment in fields_of(exc)[name][0]


def test_an_unknown_agent_is_a_400_naming_agent_id(alpha):
    with alpha(), pytest.raises(ValidationFailed) as exc:
        services.batch_create(agent_id=999999, source=csv_upload(f"phone\n{ADA}\n"))
    assert list(fields_of(exc)) == ["agent_id"]


def test_start_true_starts_the_batch_in_the_same_transaction(
    alpha, batch_agent, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with alpha(), django_capture_on_commit_callbacks(execute=False):
        batch = create(batch_agent, csv_upload(f"phone,customer_name\n{ADA},Ada\n"), start=True)
    assert batch.status == BatchStatus.RUNNING
    assert batch.started_at is not None


def test_a_failed_import_leaves_nothing_behind(alpha, batch_agent):
    with alpha():
        numbers = PhoneNumber.objects.count()
        with pytest.raises(ValidationFailed):
            create(
                batch_agent,
                csv_upload(f"phone,customer_name\n{ADA},Ada\n"),
                settings_data={"max_attempts": 99},
            )
        assert not Batch.objects.exists() and not BatchRow.objects.exists()
        assert PhoneNumber.objects.count() == numbers
