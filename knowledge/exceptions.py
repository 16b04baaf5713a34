"""Errors of the knowledge app, and every error code it answers with (also the codes an
ingestion failure records on its version, ``DocumentVersion.error_code``)."""

from enum import StrEnum

from voiceagents.exceptions import ApplicationError, Conflict, NotFound, ServiceUnavailable


class KnowledgeErrorCode(StrEnum):
    KNOWLEDGE_BASE_NOT_FOUND = "knowledge_base_not_found"
    DOCUMENT_NOT_FOUND = "document_not_found"
    DOCUMENT_VERSION_NOT_FOUND = "document_version_not_found"
    DOCUMENT_TOO_LARGE = "document_too_large"
    DOCUMENT_EXISTS = "document_exists"
    VERSION_NOT_FAILED = "version_not_failed"
    # Extraction (knowledge.extraction): the upload cannot be turned into text.
    EXTRACTION_FAILED = "extraction_failed"
    EMPTY_DOCUMENT = "empty_document"
    UNSUPPORTED_TYPE = "unsupported_type"
    UNKNOWN_ENCODING = "unknown_encoding"
    BAD_ENCODING = "bad_encoding"
    ENCRYPTED_PDF = "encrypted_pdf"
    CORRUPT_PDF = "corrupt_pdf"
    BAD_CSV_ROW = "bad_csv_row"
    NO_QA_ROWS = "no_qa_rows"
    # Embedding (knowledge.embeddings): configuration or an unusable provider answer.
    EMBEDDING_FAILED = "embedding_failed"
    EMPTY_TEXT = "empty_text"
    BAD_EMBEDDING_RESPONSE = "bad_embedding_response"
    UNKNOWN_EMBEDDING_MODEL = "unknown_embedding_model"
    EMBEDDING_MODEL_UNAVAILABLE = "embedding_model_unavailable"
    # The embedding provider's own failures (a search answers them at once, an ingestion
    # records them on its version).
    EMBEDDING_PROVIDER_UNAVAILABLE = "embedding_provider_unavailable"
    EMBEDDING_PROVIDER_ERROR = "embedding_provider_error"
    # An ingestion that failed on a bug (recorded on the version, and re-raised).
    INTERNAL_ERROR = "internal_error"


class KnowledgeBaseNotFound(NotFound):
    code = KnowledgeErrorCode.KNOWLEDGE_BASE_NOT_FOUND
    default_message = "Knowledge base not found."


class DocumentNotFound(NotFound):
    code = KnowledgeErrorCode.DOCUMENT_NOT_FOUND
    default_message = "Document not found."


class DocumentVersionNotFound(NotFound):
    code = KnowledgeErrorCode.DOCUMENT_VERSION_NOT_FOUND
    default_message = "Document version not found."


class DocumentAlreadyExists(Conflict):
    """An added document has the name of one the knowledge base already holds. Adding it as a
    second document would leave agents finding both the old and the new text, so the caller
    must say what it means: a new version of that document, or another title.
    ``details`` names the existing document (``document_id``, ``document_title``)."""

    code = KnowledgeErrorCode.DOCUMENT_EXISTS
    default_message = "A document with this name already exists in the knowledge base."


class DocumentVersionNotFailed(Conflict):
    """Only a failed ingestion can be run again."""

    code = KnowledgeErrorCode.VERSION_NOT_FAILED
    default_message = "Only a failed version can be ingested again."


class DocumentTooLarge(ApplicationError):
    code = KnowledgeErrorCode.DOCUMENT_TOO_LARGE
    status = 400
    default_message = "The document is too large."


class ExtractionError(ApplicationError):
    """The document cannot be turned into text; ``message`` tells the uploader what to fix,
    ``code`` which rule was broken (``KnowledgeErrorCode.EMPTY_DOCUMENT``...)."""

    code = KnowledgeErrorCode.EXTRACTION_FAILED
    status = 400
    default_message = "The document cannot be read."


class EmbeddingError(ApplicationError):
    """Bad configuration or an unusable provider answer. Transport and API errors from the
    SDKs (``openai.APIError``, ``google.genai.errors.APIError``) are not wrapped, so tasks
    can retry on them."""

    code = KnowledgeErrorCode.EMBEDDING_FAILED
    status = 502
    default_message = "The text could not be embedded."


class EmbeddingProviderUnavailable(ServiceUnavailable):
    """The embedding provider did not answer a search's query: no retries, a call is waiting."""

    code = KnowledgeErrorCode.EMBEDDING_PROVIDER_UNAVAILABLE
    default_message = "The embedding provider did not answer; try again shortly."
