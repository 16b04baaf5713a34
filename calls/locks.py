"""Locks of the calls app, in one place with the reason for each.

Concurrent calls: "count the organization's active calls, then create one if under the limit"
is a check-then-act race; two initiations at the same moment would both count N-1 and both
insert. A transaction-scoped PostgreSQL advisory lock per organization serializes exactly that
section and nothing else (a row lock on the Organization would also block settings updates).
It is released at commit, when the new call is visible to the next holder's count.
"""

from __future__ import annotations

from django.db import connection, transaction

# Arbitrary namespace for the two-key advisory lock, so ours never collide with other users of
# pg_advisory_*: (namespace, organization id).
_CALL_CONCURRENCY_NAMESPACE = 0x6361  # "ca"


def call_concurrency_lock(*, organization_id: int) -> None:
    """Hold the organization's call-concurrency lock until the current transaction ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("call_concurrency_lock must be taken inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s::int, %s::int)",
            [_CALL_CONCURRENCY_NAMESPACE, organization_id],
        )
