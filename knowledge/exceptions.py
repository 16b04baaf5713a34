"""Errors of the knowledge app. Extraction and embedding errors live with their modules
(knowledge.extraction.ExtractionError, knowledge.embeddings.EmbeddingError)."""

from voiceagents.exceptions import ApplicationError, NotFound


class KnowledgeBaseNotFound(NotFound):
    code = "knowledge_base_not_found"
    default_message = "Knowledge base not found."


class DocumentNotFound(NotFound):
    code = "document_not_found"
    default_message = "Document not found."


class DocumentVersionNotFound(NotFound):
    code = "document_version_not_found"
    default_message = "Document version not found."


class DocumentTooLarge(ApplicationError):
    code = "document_too_large"
    status = 400
    default_message = "The document is too large."
