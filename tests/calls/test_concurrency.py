"""Two initiations at the same moment cannot both pass the concurrency limit: real threads,
real transactions (committed_db), each with its own database connection."""

import threading

import pytest
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from calls import services
from calls.exceptions import ConcurrencyLimitReached
from calls.models import Call
from organizations.models import Organization, PhoneNumberClaim
from tests.calls.telephony_support import CALLER

ATTEMPTS = 6
LIMIT = 2


@pytest.fixture
def alpha_committed(committed_db):
    # pytest-django only creates the test database when some collected test uses ``db``;
    # test_the_lock_is_held_until_the_transaction_ends below guarantees it for this module.
    assert connection.settings_dict["NAME"].startswith("test_"), "not the test database"
    org = Organization.objects.get(slug="alpha")
    limit = org.max_concurrent_calls
    Organization.objects.filter(pk=org.pk).update(max_concurrent_calls=LIMIT)
    yield Organization.objects.get(pk=org.pk)
    # committed_db empties the tenant tables; the public index and settings are ours to undo.
    with schema_context("public"):
        PhoneNumberClaim.objects.filter(organization=org).delete()
        Organization.objects.filter(pk=org.pk).update(max_concurrent_calls=limit)


def test_simultaneous_initiations_never_exceed_the_limit(
    alpha_committed, twilio, make_agent, make_number
):
    org = alpha_committed
    with tenant_context(org):
        agent = make_agent()
        make_number(agent=agent)
    start = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []

    def initiate() -> None:
        try:
            start.wait()
            with tenant_context(org):
                services.call_initiate(agent_id=agent.pk, to_phone=CALLER)
            outcomes.append("created")
        except ConcurrencyLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=initiate) for _ in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["created"] * LIMIT + ["refused"] * (ATTEMPTS - LIMIT)
    with tenant_context(org):
        assert Call.objects.count() == LIMIT
    # Each created call was dialed once, after its transaction committed.
    assert len(twilio.requests_to("Calls", "POST")) == LIMIT


@pytest.mark.django_db
def test_the_concurrency_lock_is_a_transaction_scoped_advisory_lock(org_a):
    from calls.locks import call_concurrency_lock

    call_concurrency_lock(organization_id=org_a.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
            "AND pid = pg_backend_pid()",
            [org_a.pk],
        )
        assert cursor.fetchone()[0] == 1
