"""Writes for knowledge bases and documents (the product's KnowledgeBaseService:
``document_add`` plus CRUD, rollback and ingestion), one module per concept:

- ``knowledge_bases``: create, update and delete knowledge bases;
- ``documents``: add, update, upload a new version of, roll back and delete documents (each
  content change is a new version, whose ingestion is queued after commit; one document per
  name in a knowledge base);
- ``ingestion``: chunk and embed a version, then make it current (run by a Celery task).

Callers import this package (``from knowledge import services``); the modules are its layout.
"""

from knowledge.services.documents import (
    IF_EXISTS_CHOICES,
    MAX_DOCUMENT_BYTES,
    IfExists,
    document_add,
    document_delete,
    document_rollback,
    document_update,
    document_version_add,
    document_version_reingest,
)
from knowledge.services.ingestion import document_version_ingest
from knowledge.services.knowledge_bases import (
    KNOWLEDGE_BASE_SETTINGS_FIELDS,
    MAX_CHUNK_SIZE,
    knowledge_base_create,
    knowledge_base_delete,
    knowledge_base_settings_errors,
    knowledge_base_update,
)

__all__ = [
    "IF_EXISTS_CHOICES",
    "KNOWLEDGE_BASE_SETTINGS_FIELDS",
    "MAX_CHUNK_SIZE",
    "MAX_DOCUMENT_BYTES",
    "IfExists",
    "document_add",
    "document_delete",
    "document_rollback",
    "document_update",
    "document_version_add",
    "document_version_ingest",
    "document_version_reingest",
    "knowledge_base_create",
    "knowledge_base_delete",
    "knowledge_base_settings_errors",
    "knowledge_base_update",
]
