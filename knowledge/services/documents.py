"""Writes for documents: add, update, upload a new version, roll back, delete, and ingest a
failed version again.

A document's content changes only by adding a version. A knowledge base holds one document
per name: adding a document named like an existing one is refused (409
``document_exists``) unless the caller asks for a new version of it, since a silent second
document would leave agents finding the old and the new text side by side. Extraction runs in the caller's
request, so a file that cannot be read is refused (400) before anything is written; chunking
and embedding run in a Celery task that makes the version current only once all its chunks are
stored (knowledge.services.ingestion), so a failed ingestion leaves the previous version
searchable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

import structlog
from django.db import transaction
from django.db.models import Max

from knowledge import selectors
from knowledge.exceptions import (
    DocumentAlreadyExists,
    DocumentTooLarge,
    DocumentVersionNotFailed,
    DocumentVersionNotFound,
)
from knowledge.extraction import (
    SourceType,
    decode_text,
    extract_document,
    extracted_text,
    extracted_to_json,
)
from knowledge.models import Document, DocumentVersion, IngestionStatus, KnowledgeBase
from organizations.models import User
from voiceagents.exceptions import ValidationFailed
from voiceagents.queue import enqueue_on_commit

__all__ = [
    "IF_EXISTS_CHOICES",
    "MAX_DOCUMENT_BYTES",
    "IfExists",
    "document_add",
    "document_delete",
    "document_rollback",
    "document_update",
    "document_version_add",
    "document_version_reingest",
]

logger = structlog.get_logger(__name__)

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# Registered by knowledge.tasks; sent by name so this module never imports the tasks.
INGEST_TASK = "knowledge.tasks.ingest_document_version"

# What document_add does when the knowledge base already has a document of that name.
IfExists = Literal["error", "new_version"]
IF_EXISTS_CHOICES: tuple[str, ...] = ("error", "new_version")


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
        # extract_document has already decoded it successfully, the same way.
        text = decode_text(data, encoding=encoding).replace("\r\n", "\n")
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
    if_exists: IfExists = "error",
) -> Document:
    """Add a document (version 1) and schedule its ingestion.

    ``content`` is pasted text (``str``) or an uploaded file's bytes; the type comes from
    ``source_type``, else the filename or content type. Raises ExtractionError (400) for an
    unreadable file, with nothing written. The title defaults to the file's name.

    A document of the same name (the title, ignoring case; with no title given, also the file
    name of its latest version) raises DocumentAlreadyExists (409), unless ``if_exists`` is
    ``"new_version"``: then the upload becomes a new version of that document, which is
    returned (with no new version when the content equals its latest version's).
    """
    if if_exists not in IF_EXISTS_CHOICES:
        raise ValidationFailed.for_fields(
            {"if_exists": [f"Choose one of: {', '.join(IF_EXISTS_CHOICES)}."]}
        )
    upload = _upload(
        content=content,
        source_type=source_type,
        filename=filename,
        content_type=content_type,
        encoding=encoding,
    )
    explicit_title = title.strip()
    title = explicit_title or _title_from(filename)
    if not title:
        raise ValidationFailed.for_fields(
            {"title": ["A title is required when no file name is given."]}
        )
    with transaction.atomic():
        # The base's row lock serialises adds to one knowledge base, so two uploads of one
        # name at once cannot both pass the check below.
        KnowledgeBase.objects.select_for_update().filter(pk=knowledge_base.pk).first()
        existing = selectors.document_same_name(
            knowledge_base=knowledge_base,
            title=title,
            # A title given explicitly names the document; a file's name only when it is all
            # there is (the document may have been renamed since that file was uploaded).
            filename="" if explicit_title else filename,
        )
        if existing is not None:
            if if_exists != "new_version":
                raise DocumentAlreadyExists(
                    f'This knowledge base already has a document named "{existing.title}" '
                    f"(id {existing.pk}). Upload the file as a new version of it, or give "
                    "this one another title.",
                    details={"document_id": existing.pk, "document_title": existing.title},
                )
            _version_if_changed(document=existing, upload=upload, author=author)
            logger.info(
                "document_added_as_version",
                document_id=existing.pk,
                knowledge_base_id=knowledge_base.pk,
            )
            return existing
        document = Document.objects.create(
            knowledge_base=knowledge_base,
            title=title,
            source_type=upload.source_type,
            metadata=metadata or {},
            created_by=author,
        )
        _version_create(document=document, upload=upload, author=author)
    logger.info("document_added", document_id=document.pk, knowledge_base_id=knowledge_base.pk)
    return document


def document_version_add(
    *,
    document: Document,
    content: str | bytes,
    source_type: str | None = None,
    filename: str = "",
    content_type: str = "",
    encoding: str | None = None,
    author: User | None = None,
) -> DocumentVersion | None:
    """Upload a new version of ``document``: its ingestion is scheduled, and once ready it
    replaces the current version's chunks in search (the older versions stay in the
    history). Returns None, adding nothing, when the content equals the latest version's.

    The type comes from ``source_type``, else the file, else the document's current type (a
    pasted update of a Markdown document stays Markdown)."""
    upload = _document_upload(
        document=document,
        content=content,
        source_type=source_type,
        filename=filename,
        content_type=content_type,
        encoding=encoding,
    )
    with transaction.atomic():
        return _version_if_changed(document=document, upload=upload, author=author)


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
    equals the latest version's). A title another document of the knowledge base has is
    refused (409 document_exists)."""
    upload = None
    if content is not None:
        upload = _document_upload(
            document=document,
            content=content,
            source_type=source_type,
            filename=filename,
            content_type=content_type,
            encoding=encoding,
        )
    if title is not None and not title.strip():
        raise ValidationFailed.for_fields({"title": ["This field may not be blank."]})
    with transaction.atomic():
        fields = []
        if title is not None:
            if title.strip().lower() != document.title.lower():
                _refuse_taken_title(document=document, title=title.strip())
            document.title = title.strip()
            fields.append("title")
        if metadata is not None:
            document.metadata = metadata
            fields.append("metadata")
        if fields:
            document.save(update_fields=[*fields, "updated_at"])
        if upload is not None:
            _version_if_changed(document=document, upload=upload, author=author)
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
        return _version_create(
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
        raise DocumentVersionNotFailed(
            f"Only a failed version can be ingested again; this one is {version.status}."
        )
    _schedule_ingestion(version)
    return version


def _schedule_ingestion(version: DocumentVersion) -> None:
    """Queue the ingestion once the version is committed, in the schema that wrote it."""
    enqueue_on_commit(INGEST_TASK, version_id=version.pk)


def _refuse_taken_title(*, document: Document, title: str) -> None:
    """A rename to another document's name would make two documents of one name. Call
    inside a transaction."""
    KnowledgeBase.objects.select_for_update().filter(pk=document.knowledge_base_id).first()
    other = selectors.document_same_name(knowledge_base=document.knowledge_base, title=title)
    if other is not None and other.pk != document.pk:
        raise DocumentAlreadyExists(
            f'This knowledge base already has a document named "{other.title}" (id '
            f"{other.pk}); choose another title.",
            details={"document_id": other.pk, "document_title": other.title},
        )


def _document_upload(
    *,
    document: Document,
    content: str | bytes,
    source_type: str | None,
    filename: str,
    content_type: str,
    encoding: str | None,
) -> _Upload:
    """A new version's upload: with no hint of its type, the document's type."""
    return _upload(
        content=content,
        source_type=source_type or (None if filename or content_type else document.source_type),
        filename=filename,
        content_type=content_type,
        encoding=encoding,
    )


def _version_if_changed(
    *, document: Document, upload: _Upload, author: User | None
) -> DocumentVersion | None:
    """A new version, unless the upload equals the latest version (None). Call inside a
    transaction."""
    _lock(document)
    latest = document.latest_version
    if latest is not None and (latest.content_hash, latest.source_type) == (
        upload.content_hash,
        upload.source_type,
    ):
        return None
    return _version_create(document=document, upload=upload, author=author)


def _lock(document: Document) -> None:
    """Lock the document's row and read its latest version again under the lock."""
    # The row lock serialises concurrent updates of one document, so numbers never collide.
    locked = (
        Document.objects.select_for_update(of=("self",))
        .select_related("latest_version")
        .filter(pk=document.pk)
        .first()
    )
    if locked is not None:
        document.latest_version = locked.latest_version


def _version_create(
    *, document: Document, upload: _Upload, author: User | None, note: str = ""
) -> DocumentVersion:
    """Append a version and schedule its ingestion. Call inside a transaction."""
    _lock(document)
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
