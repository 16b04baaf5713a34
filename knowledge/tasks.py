"""Celery tasks of the knowledge app: thin, idempotent wrappers over services.

They run in the schema of the organization that queued them: services send them by name
through voiceagents.queue, which names the schema in the task headers (in eager mode too).
"""

from __future__ import annotations

from celery import shared_task

from knowledge import services
from knowledge.embeddings import TRANSIENT_ERRORS


@shared_task(
    # The name knowledge.services.documents sends (INGEST_TASK); Celery's default, spelled out.
    name="knowledge.tasks.ingest_document_version",
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
    acks_late=True,
)
def ingest_document_version(*, version_id: int) -> None:
    services.document_version_ingest(version_id=version_id)
