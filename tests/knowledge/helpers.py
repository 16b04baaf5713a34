"""Helpers shared by the knowledge-base tests."""

from __future__ import annotations

import numpy as np
from django.db import connection
from pgvector.psycopg import register_vector

from knowledge.models import Chunk, Document, DocumentVersion, KnowledgeBase
from tests.fakes import openai_http


def kb_url(kb: KnowledgeBase | int, suffix: str = "") -> str:
    pk = kb if isinstance(kb, int) else kb.pk
    return f"/api/v1/knowledge-bases/{pk}/{suffix}"


def doc_url(document: Document, suffix: str = "") -> str:
    return kb_url(document.knowledge_base_id, f"documents/{document.pk}/{suffix}")


def embedded_texts(fake: openai_http.FakeOpenAIEmbeddings) -> list[str]:
    """Every text the OpenAI fake was asked to embed, in order."""
    return [text for request in fake.requests for text in request.body["input"]]


def chunk_texts(document: Document) -> list[str]:
    return list(
        Chunk.objects.filter(document=document).order_by("ordinal").values_list("text", flat=True)
    )


def load_random_chunks(knowledge_base: KnowledgeBase, *, count: int, seed: int = 7) -> np.ndarray:
    """``count`` chunks with random unit vectors in one document of ``knowledge_base``, loaded
    the way bench/bench_knowledge_search.py does: COPY with the HNSW index dropped, then the
    index rebuilt from its own definition (inserting row by row into HNSW is ~10x slower).
    Returns the vectors."""
    document = Document.objects.create(
        knowledge_base=knowledge_base, title="Random", source_type="text"
    )
    version = DocumentVersion.objects.create(
        document=document,
        number=1,
        source_type="text",
        content="-",
        content_hash="-",
        extracted={},
    )
    document.current_version = document.latest_version = version
    document.save()
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, knowledge_base.embedding_dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    column = knowledge_base.embedding_column
    index = f"chunk_{column}_hnsw"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef(%s::regclass)", [index])
        (definition,) = cursor.fetchone()
        cursor.execute(f"DROP INDEX {index}")
        raw = connection.connection
        register_vector(raw)
        with (
            raw.cursor() as raw_cursor,
            raw_cursor.copy(
                f"COPY {Chunk._meta.db_table} (knowledge_base_id, document_id, version_id, ordinal,"
                f" text, token_count, content_hash, {column}) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(
                ["bigint", "bigint", "bigint", "integer", "text", "integer", "varchar", "vector"]
            )
            for number, vector in enumerate(vectors):
                copy.write_row(
                    [
                        knowledge_base.pk,
                        document.pk,
                        version.pk,
                        number,
                        f"filler chunk {number}",
                        3,
                        f"hash-{number}",
                        vector,
                    ]
                )
        # Django's foreign keys are deferred; CREATE INDEX refuses pending trigger events.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(definition)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(f"ANALYZE {Chunk._meta.db_table}")
    return vectors
