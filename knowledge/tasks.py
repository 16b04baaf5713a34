"""Celery tasks of the knowledge app: thin, idempotent wrappers over services.

They run in the schema of the organization that queued them: the tenant-aware Celery app
(voiceagents.celery) carries the schema in the task headers, in eager mode too.
"""

from __future__ import annotations

from celery import shared_task

from knowledge.embeddings import TRANSIENT_ERRORS


@shared_task(
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
    acks_late=True,
)
def ingest_document_version(*, version_id: int) -> None:
    from knowledge import services  # services schedule this task: import at run time

    services.document_version_ingest(version_id=version_id)
