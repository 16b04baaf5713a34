"""Locks of the calls app, in one place with the reason for each.

Concurrent calls: "count the organization's active calls, then create one if under the limit"
is a check-then-act race; two initiations at the same moment would both count N-1 and both
insert. A transaction-scoped PostgreSQL advisory lock per organization serializes exactly that
section and nothing else (a row lock on the Organization would also block settings updates).
It is released at commit, when the new call is visible to the next holder's count.

Batch dispatch: many dispatcher runs are sent for one batch (one per call that ends, the
tick, control actions), and all of them would wait in turn on the organization's lock, each
holding a worker process while it waits, with the dial tasks queued behind them. One run at
a time per batch does the claiming; another that finds the batch's dispatch lock taken leaves
at once, because the run holding it reads the free slots again after each commit and so sees
whatever slot was freed while it held the lock. A try-lock (never a wait), transaction
scoped like the other; batch ids repeat across schemas, so the key names the schema.
"""

from __future__ import annotations

import hashlib

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


def batch_dispatch_lock_try(*, schema_name: str, batch_id: int) -> bool:
    """Take the batch's dispatch lock until the current transaction ends, if no other
    transaction holds it; False (without waiting) when one does."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("batch_dispatch_lock_try must be called inside transaction.atomic()")
    # The one-key (bigint) form, a key space apart from the two-key form above.
    digest = hashlib.blake2b(f"batch-dispatch:{schema_name}:{batch_id}".encode(), digest_size=8)
    key = int.from_bytes(digest.digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s::bigint)", [key])
        row = cursor.fetchone()
    return bool(row and row[0])
