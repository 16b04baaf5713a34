"""Ingestion of a document version: chunk, embed (reusing cached vectors), and swap the
document's chunks for the new version's in one transaction. Runs in a Celery task
(knowledge.tasks.ingest_document_version)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import openai
import structlog
from django.db import transaction
from django.utils import timezone
from google.genai import errors as genai_errors

from knowledge.chunking import Chunk as TextChunk
from knowledge.chunking import chunk_document
from knowledge.embeddings import TRANSIENT_ERRORS, configured_embedder
from knowledge.exceptions import KnowledgeErrorCode
from knowledge.extraction import extracted_from_json
from knowledge.models import (
    EMBEDDING_COLUMNS,
    Chunk,
    Document,
    DocumentVersion,
    EmbeddingCache,
    IngestionStatus,
    KnowledgeBase,
)
from voiceagents.exceptions import ApplicationError

__all__ = ["document_version_ingest"]

logger = structlog.get_logger(__name__)

_CACHE_LOOKUP_BATCH = 1000

T = TypeVar("T")


def document_version_ingest(*, version_id: int) -> DocumentVersion | None:
    """Chunk and embed a version, then make it the document's current version.

    Idempotent: a ready or superseded version is left alone, a pending, processing (a worker
    died) or failed one is done again, reusing every vector already embedded. Progress
    (chunks done / total) is saved after each embedding batch. On failure the version records
    why and the previous version stays current; transient provider errors are re-raised so
    the task retries. Returns None when the document was deleted meanwhile.
    """
    version = (
        DocumentVersion.objects.select_related("document__knowledge_base")
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        return None
    if version.status in (IngestionStatus.READY, IngestionStatus.SUPERSEDED):
        return version
    knowledge_base = version.document.knowledge_base
    chunks = chunk_document(
        extracted_from_json(version.extracted),
        chunk_size=knowledge_base.chunk_size,
        chunk_overlap=knowledge_base.chunk_overlap,
    )
    _progress(
        version,
        status=IngestionStatus.PROCESSING,
        chunks_total=len(chunks),
        chunks_done=0,
        chunks_embedded=0,
        error_code="",
        error_message="",
        ingestion_started_at=timezone.now(),
    )
    try:
        vectors = _vectors_for(version=version, chunks=chunks, knowledge_base=knowledge_base)
        return _make_current(version=version, chunks=chunks, vectors=vectors)
    except Exception as exc:
        _record_failure(version, exc)
        if isinstance(exc, TRANSIENT_ERRORS) or not _is_expected(exc):
            raise
        return version


def _vectors_for(
    *, version: DocumentVersion, chunks: Sequence[TextChunk], knowledge_base: KnowledgeBase
) -> dict[str, Any]:
    """content hash -> vector for every chunk: from the cache, else embedded in batches (each
    batch is cached as soon as it is paid for, so a retry after a failure resumes)."""
    model = knowledge_base.embedding_model
    per_hash = Counter(chunk.content_hash for chunk in chunks)
    vectors: dict[str, Any] = {}
    for hashes in _batches(list(per_hash), _CACHE_LOOKUP_BATCH):
        vectors.update(
            EmbeddingCache.objects.filter(model=model, content_hash__in=hashes).values_list(
                "content_hash", "embedding"
            )
        )
    done = sum(per_hash[h] for h in vectors)
    _progress(version, chunks_done=done)

    first_of_hash = {chunk.content_hash: chunk for chunk in reversed(chunks)}
    missing = [first_of_hash[h] for h in per_hash if h not in vectors]
    if not missing:
        return vectors
    embedder = configured_embedder(model)
    embedded = 0
    for batch in _batches(missing, embedder.batch_size):
        batch_vectors = embedder.embed([chunk.text for chunk in batch])
        EmbeddingCache.objects.bulk_create(
            [
                EmbeddingCache(model=model, content_hash=chunk.content_hash, embedding=vector)
                for chunk, vector in zip(batch, batch_vectors, strict=True)
            ],
            ignore_conflicts=True,
        )
        for chunk, vector in zip(batch, batch_vectors, strict=True):
            vectors[chunk.content_hash] = vector
        embedded += len(batch)
        done += sum(per_hash[chunk.content_hash] for chunk in batch)
        _progress(version, chunks_done=done, chunks_embedded=embedded)
    return vectors


def _make_current(
    *, version: DocumentVersion, chunks: Sequence[TextChunk], vectors: dict[str, Any]
) -> DocumentVersion | None:
    """Swap the document's chunks for this version's in one transaction: searches see the
    old version or the new one, never both or neither."""
    knowledge_base = version.document.knowledge_base
    column = EMBEDDING_COLUMNS[knowledge_base.embedding_dimensions]
    with transaction.atomic():
        document = (
            Document.objects.select_for_update(of=("self",))
            .select_related("current_version")
            .filter(pk=version.document_id)
            .first()
        )
        if document is None:
            return None
        current = document.current_version
        if current is not None and current.number > version.number:
            _progress(version, status=IngestionStatus.SUPERSEDED)
            return version
        Chunk.objects.filter(document=document).delete()
        Chunk.objects.bulk_create(
            [
                Chunk(
                    knowledge_base_id=knowledge_base.pk,
                    document_id=document.pk,
                    version=version,
                    ordinal=chunk.ordinal,
                    text=chunk.text,
                    token_count=chunk.token_count,
                    content_hash=chunk.content_hash,
                    **{column: vectors[chunk.content_hash]},
                )
                for chunk in chunks
            ],
            batch_size=500,
        )
        document.current_version = version
        document.save(update_fields=["current_version", "updated_at"])
        _progress(
            version,
            status=IngestionStatus.READY,
            chunks_done=len(chunks),
            ingested_at=timezone.now(),
        )
    logger.info(
        "document_version_ingested",
        document_id=document.pk,
        version=version.number,
        chunks=len(chunks),
        embedded=version.chunks_embedded,
    )
    return version


def _progress(version: DocumentVersion, **fields: Any) -> None:
    """Save ingestion fields at once (outside the swap, they commit immediately, so the API
    and admin see progress). An update, not a save: the document may have been deleted."""
    for name, value in fields.items():
        setattr(version, name, value)
    DocumentVersion.objects.filter(pk=version.pk).update(**fields)


def _is_expected(exc: Exception) -> bool:
    """Failures that are about the input or the configuration, not a bug: recorded, not raised."""
    return isinstance(exc, ApplicationError | openai.APIStatusError | genai_errors.APIError)


def _record_failure(version: DocumentVersion, exc: Exception) -> None:
    if isinstance(exc, ApplicationError):
        code, message = exc.code, exc.message
    elif isinstance(exc, TRANSIENT_ERRORS):
        code = KnowledgeErrorCode.EMBEDDING_PROVIDER_UNAVAILABLE
        message = f"The embedding provider is unavailable; the ingestion is retried. ({exc})"
    elif isinstance(exc, openai.APIStatusError | genai_errors.APIError):
        status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
        code = KnowledgeErrorCode.EMBEDDING_PROVIDER_ERROR
        message = f"The embedding provider refused the request ({status}): {exc}"
    else:
        code, message = (
            KnowledgeErrorCode.INTERNAL_ERROR,
            f"Unexpected error: {type(exc).__name__}: {exc}",
        )
    logger.warning(
        "document_version_ingest_failed", version_id=version.pk, code=code, error=message
    )
    _progress(version, status=IngestionStatus.FAILED, error_code=code, error_message=message)


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
