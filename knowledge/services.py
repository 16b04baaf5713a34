"""Writes for knowledge bases and documents (the product's KnowledgeBaseService:
``document_add`` plus CRUD, rollback and ingestion).

A document's content changes only by adding a version. Extraction runs in the caller's request,
so a file that cannot be read is refused (400) before anything is written; chunking and
embedding run in a Celery task (knowledge.tasks), which makes the version current only once all
its chunks are stored, so a failed ingestion leaves the previous version searchable.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, TypeVar

import openai
import structlog
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from google.genai import errors as genai_errors

from knowledge import tasks
from knowledge.chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, chunk_document
from knowledge.chunking import Chunk as TextChunk
from knowledge.embeddings import (
    EMBEDDING_MODELS,
    LOCAL_MINILM,
    TRANSIENT_ERRORS,
    configured_embedder,
    embedding_model_available,
)
from knowledge.exceptions import DocumentTooLarge, DocumentVersionNotFound
from knowledge.extraction import (
    SourceType,
    extract_document,
    extracted_from_json,
    extracted_text,
    extracted_to_json,
)
from knowledge.models import (
    EMBEDDING_COLUMNS,
    Chunk,
    Document,
    DocumentVersion,
    EmbeddingCache,
    IngestionStatus,
    KnowledgeBase,
)
from organizations.models import User
from voiceagents.exceptions import ApplicationError, ValidationFailed

logger = structlog.get_logger(__name__)

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_CHUNK_SIZE = 1000
KNOWLEDGE_BASE_SETTINGS_FIELDS = ("name", "description")
_CACHE_LOOKUP_BATCH = 1000

T = TypeVar("T")


def _invalid(fields: dict[str, list[str]]) -> ValidationFailed:
    return ValidationFailed(
        "Some fields are not valid: " + ", ".join(sorted(fields)) + ".",
        details={"fields": fields},
    )


# --- knowledge bases -----------------------------------------------------------------------------


def knowledge_base_settings_errors(
    *, name: str, embedding_model: str, chunk_size: int, chunk_overlap: int
) -> dict[str, list[str]]:
    """Field -> problems with these settings (empty when valid). The admin form shows them
    next to its fields; knowledge_base_create refuses them."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["This field may not be blank."]
    if embedding_model not in EMBEDDING_MODELS:
        errors["embedding_model"] = [f"Choose one of: {', '.join(EMBEDDING_MODELS)}."]
    elif not embedding_model_available(embedding_model):
        provider = embedding_model.split("/", 1)[0].upper()
        errors["embedding_model"] = [
            f"{embedding_model} needs {provider}_API_KEY, which is not configured here."
        ]
    if not 16 <= chunk_size <= MAX_CHUNK_SIZE:
        errors["chunk_size"] = [f"Must be between 16 and {MAX_CHUNK_SIZE} tokens."]
    elif not 0 <= chunk_overlap < chunk_size // 2:
        errors["chunk_overlap"] = ["Must be at least 0 and less than half of chunk_size."]
    return errors


def knowledge_base_create(
    *,
    name: str,
    description: str = "",
    embedding_model: str = LOCAL_MINILM,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    created_by: User | None = None,
) -> KnowledgeBase:
    """Create a knowledge base. Its embedding model and chunking are fixed from now on."""
    errors = knowledge_base_settings_errors(
        name=name,
        embedding_model=embedding_model,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
    )
    if errors:
        raise _invalid(errors)
    return KnowledgeBase.objects.create(
        name=name.strip(),
        description=description,
        embedding_model=embedding_model,
        embedding_dimensions=EMBEDDING_MODELS[embedding_model],
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        created_by=created_by,
    )


def knowledge_base_update(*, knowledge_base: KnowledgeBase, data: dict[str, Any]) -> KnowledgeBase:
    unknown = set(data) - set(KNOWLEDGE_BASE_SETTINGS_FIELDS)
    if unknown:
        raise _invalid(
            {
                field: ["This field cannot be changed; create a new knowledge base instead."]
                for field in sorted(unknown)
            }
        )
    if "name" in data and not str(data["name"]).strip():
        raise _invalid({"name": ["This field may not be blank."]})
    for field, value in data.items():
        setattr(knowledge_base, field, value.strip() if field == "name" else value)
    knowledge_base.save(update_fields=[*data.keys(), "updated_at"])
    return knowledge_base


def knowledge_base_delete(*, knowledge_base: KnowledgeBase) -> None:
    """Delete the base with its documents, versions and chunks; agents lose it as a source."""
    from agents.config import config_cache_invalidate

    # The agents' cached call configs list this base's id: make them stale after commit.
    with transaction.atomic():
        for agent_id in knowledge_base.agents.values_list("pk", flat=True):
            config_cache_invalidate(agent_id=agent_id)
        knowledge_base.delete()


# --- documents -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Upload:
    """An upload turned into what a version stores."""

    source_type: str
    filename: str
    content: str
    content_hash: str
    extracted: dict[str, Any]


def _upload(
    *,
    content: str | bytes,
    source_type: str | None,
    filename: str,
    content_type: str,
    encoding: str | None,
) -> _Upload:
    if isinstance(content, str):
        data, encoding = content.encode(), None
        if not (source_type or filename or content_type):
            source_type = SourceType.TEXT  # pasted text with no other hint
    else:
        data = bytes(content)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(
            f"The document is {len(data) // 1024 // 1024} MiB; the limit is "
            f"{MAX_DOCUMENT_BYTES // 1024 // 1024} MiB.",
            details={"max_bytes": MAX_DOCUMENT_BYTES},
        )
    extracted = extract_document(
        data=data,
        source_type=source_type,
        filename=filename,
        content_type=content_type,
        encoding=encoding,
    )
    if extracted.source_type is SourceType.PDF:
        text = extracted_text(extracted)
    else:
        # extract_document has already decoded it successfully with the same codec.
        text = data.decode(encoding or "utf-8-sig").replace("\r\n", "\n")
    return _Upload(
        source_type=extracted.source_type.value,
        filename=filename,
        content=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        extracted=extracted_to_json(extracted),
    )


def _title_from(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).stem.replace("_", " ").strip()[:300]


def document_add(
    *,
    knowledge_base: KnowledgeBase,
    title: str = "",
    content: str | bytes,
    source_type: str | None = None,
    filename: str = "",
    content_type: str = "",
    encoding: str | None = None,
    metadata: dict[str, Any] | None = None,
    author: User | None = None,
) -> Document:
    """Add a document (version 1) and schedule its ingestion.

    ``content`` is pasted text (``str``) or an uploaded file's bytes; the type comes from
    ``source_type``, else the filename or content type. Raises ExtractionError (400) for an
    unreadable file, with nothing written. The title defaults to the file's name.
    """
    upload = _upload(
        content=content,
        source_type=source_type,
        filename=filename,
        content_type=content_type,
        encoding=encoding,
    )
    title = title.strip() or _title_from(filename)
    if not title:
        raise _invalid({"title": ["A title is required when no file name is given."]})
    with transaction.atomic():
        document = Document.objects.create(
            knowledge_base=knowledge_base,
            title=title,
            source_type=upload.source_type,
            metadata=metadata or {},
            created_by=author,
        )
        _version_add(document=document, upload=upload, author=author)
    logger.info("document_added", document_id=document.pk, knowledge_base_id=knowledge_base.pk)
    return document


def document_update(
    *,
    document: Document,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    content: str | bytes | None = None,
    source_type: str | None = None,
    filename: str = "",
    content_type: str = "",
    encoding: str | None = None,
    author: User | None = None,
) -> Document:
    """Change the title or metadata in place; new content becomes a new version (none when it
    equals the latest version's)."""
    upload = None
    if content is not None:
        upload = _upload(
            content=content,
            source_type=source_type or (None if filename or content_type else document.source_type),
            filename=filename,
            content_type=content_type,
            encoding=encoding,
        )
    if title is not None and not title.strip():
        raise _invalid({"title": ["This field may not be blank."]})
    with transaction.atomic():
        fields = []
        if title is not None:
            document.title = title.strip()
            fields.append("title")
        if metadata is not None:
            document.metadata = metadata
            fields.append("metadata")
        if fields:
            document.save(update_fields=[*fields, "updated_at"])
        latest = document.latest_version
        unchanged = (
            latest is not None
            and upload is not None
            and (latest.content_hash, latest.source_type)
            == (upload.content_hash, upload.source_type)
        )
        if upload is not None and not unchanged:
            _version_add(document=document, upload=upload, author=author)
    return document


def document_rollback(
    *, document: Document, version_number: int, author: User | None = None
) -> DocumentVersion:
    """Make a new version with the content of version ``version_number``. History is never
    rewritten: the rolled-back versions stay listed."""
    old = document.versions.filter(number=version_number).first()
    if old is None:
        raise DocumentVersionNotFound(details={"version": version_number})
    upload = _Upload(
        source_type=old.source_type,
        filename=old.filename,
        content=old.content,
        content_hash=old.content_hash,
        extracted=old.extracted,
    )
    with transaction.atomic():
        return _version_add(
            document=document,
            upload=upload,
            author=author,
            note=f"Rollback to version {version_number}",
        )


def document_delete(*, document: Document) -> None:
    """Delete the document with its versions and chunks (it disappears from search at once)."""
    document.delete()


def document_version_reingest(*, version: DocumentVersion) -> DocumentVersion:
    """Try a failed ingestion again (e.g. after the provider key was fixed)."""
    if version.status != IngestionStatus.FAILED:
        raise ApplicationError(
            f"Only a failed version can be ingested again; this one is {version.status}.",
            code="version_not_failed",
            status=409,
        )
    _schedule_ingestion(version)
    return version


def _schedule_ingestion(version: DocumentVersion) -> None:
    """Queue the ingestion once the version is committed, in the schema that wrote it.

    tenant-schemas-celery would take the schema active when the task is *sent*; naming it now,
    at scheduling time, keeps the two the same even if the schema changes before the commit.
    """
    schema_name = connection.schema_name
    transaction.on_commit(
        lambda: tasks.ingest_document_version.apply_async(
            kwargs={"version_id": version.pk}, headers={"_schema_name": schema_name}
        )
    )


def _version_add(
    *, document: Document, upload: _Upload, author: User | None, note: str = ""
) -> DocumentVersion:
    """Append a version and schedule its ingestion. Call inside a transaction."""
    # The row lock serialises concurrent updates of one document, so numbers never collide.
    Document.objects.select_for_update().filter(pk=document.pk).first()
    last = document.versions.aggregate(last=Max("number"))["last"] or 0
    version = DocumentVersion.objects.create(
        document=document,
        number=last + 1,
        source_type=upload.source_type,
        filename=upload.filename,
        content=upload.content,
        content_hash=upload.content_hash,
        extracted=upload.extracted,
        note=note,
        author=author,
    )
    document.latest_version = version
    document.source_type = upload.source_type
    document.save(update_fields=["latest_version", "source_type", "updated_at"])
    _schedule_ingestion(version)
    return version


# --- ingestion -----------------------------------------------------------------------------------


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
        code = "embedding_provider_unavailable"
        message = f"The embedding provider is unavailable; the ingestion is retried. ({exc})"
    elif isinstance(exc, openai.APIStatusError | genai_errors.APIError):
        status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
        code = "embedding_provider_error"
        message = f"The embedding provider refused the request ({status}): {exc}"
    else:
        code, message = "internal_error", f"Unexpected error: {type(exc).__name__}: {exc}"
    logger.warning(
        "document_version_ingest_failed", version_id=version.pk, code=code, error=message
    )
    _progress(version, status=IngestionStatus.FAILED, error_code=code, error_message=message)


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
