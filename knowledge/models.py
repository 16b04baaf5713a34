"""Knowledge bases (tenant schema): documents, their immutable versions, and searchable chunks.

Invariant the search relies on: a document's chunks are those of its *current* version only.
Ingestion builds a new version's chunks and swaps them in, deleting the old ones, in one
transaction (knowledge.services.document_version_ingest), so a search sees one version of
each document, never two and never none.

Vectors of different widths cannot share one HNSW index, so each supported width has its own
typed column with its own index (``EMBEDDING_COLUMNS``); a chunk fills the one of its
knowledge base's model. Why this and not expression indexes: docs/decisions.md.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from knowledge.embeddings import EMBEDDING_MODELS, LOCAL_MINILM
from knowledge.extraction import SourceType as ExtractedSourceType

# Text search configuration of the keyword half of hybrid search. English stems words and
# drops stop words, so "what is the warranty" does not match every chunk containing "the".
FTS_CONFIG = "english"

# Vector width -> Chunk column holding vectors of that width (each with an HNSW index).
EMBEDDING_COLUMNS: dict[int, str] = {384: "embedding_384", 1536: "embedding_1536"}

# HNSW build parameters (pgvector's defaults; see docs/benchmarks.md "Knowledge search").
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64


class SourceType(models.TextChoices):
    TEXT = ExtractedSourceType.TEXT.value, "Plain text"
    MARKDOWN = ExtractedSourceType.MARKDOWN.value, "Markdown"
    HTML = ExtractedSourceType.HTML.value, "HTML"
    PDF = ExtractedSourceType.PDF.value, "PDF"
    CSV = ExtractedSourceType.CSV.value, "CSV of questions and answers"


class KnowledgeBase(models.Model):
    """A searchable collection of documents. The embedding model and the chunking settings are
    fixed at creation: every chunk of the base shares one vector space (and one dimension) and
    was cut the same way."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    embedding_model = models.CharField(max_length=100, default=LOCAL_MINILM)
    embedding_dimensions = models.PositiveIntegerField(default=EMBEDDING_MODELS[LOCAL_MINILM])
    chunk_size = models.PositiveIntegerField(default=180, help_text="Tokens per chunk.")
    chunk_overlap = models.PositiveIntegerField(default=30, help_text="Tokens of overlap.")
    created_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def embedding_column(self) -> str:
        return EMBEDDING_COLUMNS[self.embedding_dimensions]


class Document(models.Model):
    """A titled document in a knowledge base. Its content lives in versions: ``current_version``
    is the one searched, ``latest_version`` the newest (possibly still ingesting, or failed)."""

    knowledge_base = models.ForeignKey(
        KnowledgeBase, on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(max_length=300)
    source_type = models.CharField(
        max_length=10, choices=SourceType.choices, help_text="The latest version's type."
    )
    metadata = models.JSONField(default=dict, blank=True)
    current_version = models.ForeignKey(
        "DocumentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    latest_version = models.ForeignKey(
        "DocumentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class IngestionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    # A newer version became current first; this one was never searchable.
    SUPERSEDED = "superseded", "Superseded"


class DocumentVersion(models.Model):
    """One immutable revision of a document's content. ``extracted`` is what the extractor made
    of the upload (sections with heading paths, or Q/A pairs): chunking reads it, so a version
    re-chunks identically whatever the source format. The ingestion fields below the content
    record how turning this version into searchable chunks went."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    source_type = models.CharField(max_length=10, choices=SourceType.choices)
    filename = models.CharField(max_length=255, blank=True)
    content = models.TextField(help_text="The text as uploaded (a PDF's: its extracted text).")
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the content.")
    extracted = models.JSONField()
    note = models.CharField(max_length=200, blank=True)
    author = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    status = models.CharField(
        max_length=12, choices=IngestionStatus.choices, default=IngestionStatus.PENDING
    )
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(
        default=0, help_text="Chunks whose vector is known (embedded now or found in the cache)."
    )
    chunks_embedded = models.PositiveIntegerField(
        default=0, help_text="Chunks embedded by the model (the rest came from the cache)."
    )
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)
    ingestion_started_at = models.DateTimeField(null=True, blank=True)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["document", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="uniq_document_version")
        ]

    def __str__(self) -> str:
        return f"{self.document} v{self.number}"


class Chunk(models.Model):
    """A searchable piece of a document's current version, with its vector (in the column of
    its width) and its full-text vector (generated by PostgreSQL from ``text``)."""

    # knowledge_base and document repeat what version implies, so the search filters chunks
    # without joins inside the index scan.
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    version = models.ForeignKey(DocumentVersion, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField(help_text="Position in the version, from 0.")
    text = models.TextField()
    token_count = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    embedding_384 = VectorField(dimensions=384, null=True, blank=True)
    embedding_1536 = VectorField(dimensions=1536, null=True, blank=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("text", config=FTS_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["version", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["version", "ordinal"], name="uniq_chunk_ordinal"),
            models.CheckConstraint(
                condition=Q(embedding_384__isnull=False, embedding_1536__isnull=True)
                | Q(embedding_384__isnull=True, embedding_1536__isnull=False),
                name="chunk_has_one_embedding",
            ),
        ]
        indexes = [
            # NULLs are not indexed by HNSW: each index holds only the chunks of its width.
            HnswIndex(
                fields=["embedding_384"],
                name="chunk_embedding_384_hnsw",
                m=HNSW_M,
                ef_construction=HNSW_EF_CONSTRUCTION,
                opclasses=["vector_cosine_ops"],
            ),
            HnswIndex(
                fields=["embedding_1536"],
                name="chunk_embedding_1536_hnsw",
                m=HNSW_M,
                ef_construction=HNSW_EF_CONSTRUCTION,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.version} #{self.ordinal}"

    @property
    def embedding(self):
        return self.embedding_384 if self.embedding_384 is not None else self.embedding_1536


class EmbeddingCache(models.Model):
    """A vector already paid for, by model and SHA-256 of the embedded text: an unchanged chunk
    is never embedded twice, whichever version or document it reappears in. The column is
    untyped (any width) and unindexed beyond the lookup key; it is never searched."""

    model = models.CharField(max_length=100)
    content_hash = models.CharField(max_length=64)
    embedding = VectorField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "content_hash"], name="uniq_embedding_cache")
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.content_hash[:12]}"
