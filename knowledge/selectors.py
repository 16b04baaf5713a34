"""Reads for knowledge bases and documents, and the hybrid search (the product's
KnowledgeBaseService.search).

Search fuses rankings of a knowledge base's chunks with reciprocal rank fusion (RRF):
- vector: cosine distance to the query's embedding, served by the HNSW index of the base's
  width (knowledge.models.EMBEDDING_COLUMNS);
- keyword: PostgreSQL full-text rank of the chunks containing all the query's words (stemmed,
  stop words dropped), so product names are found even when the embedding model has never
  seen them;
- identifiers: chunks containing the query's code-like tokens ("SKU-77X-QZ", "A320"), even
  when the rest of the question's words are not in them. Without this vote, "what is the
  warranty on the SKU-77X-QZ" would rank warranty texts about other products above the one
  chunk naming the code.
Each keyword ranking reads at most KEYWORD_MAX_MATCHES matches, so a query of common words
costs a bounded amount of work (see _keyword_ctes).
Only current versions are searched because only they have chunks (see knowledge.models).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import openai
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from google.genai import errors as genai_errors

from knowledge.embeddings import TRANSIENT_ERRORS, configured_embedder
from knowledge.exceptions import (
    DocumentNotFound,
    DocumentVersionNotFound,
    EmbeddingProviderUnavailable,
    KnowledgeBaseNotFound,
)
from knowledge.models import (
    EMBEDDING_COLUMNS,
    FTS_CONFIG,
    Chunk,
    Document,
    DocumentVersion,
    KnowledgeBase,
)
from voiceagents.exceptions import ValidationFailed

SearchMode = Literal["hybrid", "vector", "text"]
SEARCH_MODES: tuple[str, ...] = ("hybrid", "vector", "text")
MAX_TOP_K = 50

# RRF's damping constant; 60 is the value of the original paper (Cormack et al., 2009) and
# what most engines default to: a hit's score barely depends on small rank differences deep
# in either list.
RRF_K = 60
# Candidates taken from each ranking before fusion: deep enough that a chunk ranked well by
# one side only still makes the top_k.
CANDIDATES_MIN = 40
CANDIDATES_PER_RESULT = 4
# HNSW search breadth (pgvector's hnsw.ef_search, default 40). Measured in
# bench/bench_knowledge_search.py: Recall@10 >= 0.95 at 100k chunks; see docs/benchmarks.md.
HNSW_EF_SEARCH = 100
# A keyword ranking whose words match more chunks than this abstains (see _keyword_ctes).
KEYWORD_MAX_MATCHES = 1000
# A token with both a letter and a digit, hyphens allowed inside: SKU-77X-QZ, A320, X1000.
_IDENTIFIER = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[^\W\d_])\w+(?:-\w+)*\b")
MAX_IDENTIFIERS = 5


def query_identifiers(query: str) -> list[str]:
    """The code-like tokens of a query, in order, without repeats."""
    return list(dict.fromkeys(_IDENTIFIER.findall(query)))[:MAX_IDENTIFIERS]


# --- knowledge bases and documents ---------------------------------------------------------------


def knowledge_base_list() -> QuerySet[KnowledgeBase]:
    """The active organization's knowledge bases (the schema is the organization's)."""
    return KnowledgeBase.objects.annotate(document_count=Count("documents")).order_by("name", "id")


def knowledge_base_get(*, knowledge_base_id: int | str) -> KnowledgeBase:
    pk = _int_or_none(knowledge_base_id)
    knowledge_base = knowledge_base_list().filter(pk=pk).first() if pk is not None else None
    if knowledge_base is None:
        raise KnowledgeBaseNotFound()
    return knowledge_base


def document_list(*, knowledge_base: KnowledgeBase) -> QuerySet[Document]:
    return Document.objects.filter(knowledge_base=knowledge_base).select_related(
        "current_version", "latest_version"
    )


def document_get(*, knowledge_base: KnowledgeBase, document_id: int | str) -> Document:
    pk = _int_or_none(document_id)
    document = (
        document_list(knowledge_base=knowledge_base).filter(pk=pk).first()
        if pk is not None
        else None
    )
    if document is None:
        raise DocumentNotFound()
    return document


def document_same_name(
    *, knowledge_base: KnowledgeBase, title: str, filename: str = ""
) -> Document | None:
    """The document of ``knowledge_base`` that a new one titled ``title`` would duplicate: the
    same title, ignoring case, or, when ``filename`` is given, a latest version
    uploaded from a file of that name (the document may have been renamed since). The oldest
    first, should duplicates made before this check exist."""
    same = Q(title__iexact=title.strip())
    if filename:
        same |= Q(latest_version__filename__iexact=filename)
    return (
        document_list(knowledge_base=knowledge_base)
        .filter(same)
        .order_by("created_at", "id")
        .first()
    )


def document_chunk_list(*, document: Document) -> QuerySet[Chunk]:
    """The chunks search reads for ``document`` (its current version's), in order, without
    their vectors (kilobytes each, never shown)."""
    return (
        Chunk.objects.filter(document=document)
        .select_related("version")
        .only("id", "ordinal", "text", "token_count", "version__number")
        .order_by("ordinal")
    )


def document_version_list(*, document: Document) -> QuerySet[DocumentVersion]:
    return document.versions.select_related("author").order_by("-number")


def document_version_get(*, document: Document, number: int | str) -> DocumentVersion:
    as_int = _int_or_none(number)
    version = (
        document_version_list(document=document).filter(number=as_int).first()
        if as_int is not None
        else None
    )
    if version is None:
        raise DocumentVersionNotFound(details={"version": number})
    return version


@dataclass(frozen=True)
class VersionDiff:
    from_version: int
    to_version: int
    diff: str  # unified diff of the two contents, line by line

    @property
    def lines(self) -> list[tuple[str, str]]:
        """(kind, line) with kind in header/hunk/add/remove/context, for rendering."""
        kinds = {"+++": "header", "---": "header", "@@": "hunk", "+": "add", "-": "remove"}
        result = []
        for line in self.diff.splitlines():
            kind = next((k for p, k in kinds.items() if line.startswith(p)), "context")
            result.append((kind, line))
        return result


def document_version_diff(
    *, document: Document, from_number: int | str, to_number: int | str
) -> VersionDiff:
    old = document_version_get(document=document, number=from_number)
    new = document_version_get(document=document, number=to_number)
    diff = difflib.unified_diff(
        old.content.splitlines(),
        new.content.splitlines(),
        fromfile=f"version {old.number}",
        tofile=f"version {new.number}",
        lineterm="",
    )
    return VersionDiff(from_version=old.number, to_version=new.number, diff="\n".join(diff))


def _int_or_none(value: int | str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    """A ranked chunk. ``score`` is the RRF score in hybrid mode, the cosine similarity in
    vector mode and the full-text rank in text mode; higher is better in all three."""

    chunk_id: int
    text: str
    score: float
    knowledge_base_id: int
    document_id: int
    document_title: str
    version: int  # the document version the chunk belongs to
    position: int  # the chunk's ordinal in that version
    similarity: float | None  # cosine similarity, when among the vector candidates
    vector_rank: int | None  # 1-based rank in each ranking, None when not a candidate
    text_rank: int | None
    identifier_match: bool  # contains the query's code-like tokens (hybrid mode)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def search_relevance(
    hits: Sequence[SearchHit], *, query: str, mode: SearchMode = "hybrid"
) -> list[float]:
    """Each hit's relevance from 0 to 1, for people reading results (the scores themselves
    are on scales only the ranking understands):

    - hybrid: the fused score over the best a chunk could have scored in this search, first
      in every ranking that found anything (meaning always; keywords and codes only when some
      chunk contains them), so 1 means "first by every measure that had a say";
    - vector: the cosine similarity (below 0 counts as 0);
    - text: the full-text rank over the best hit's (that rank has no fixed scale).
    """
    if not hits:
        return []
    if mode == "vector":
        return [_unit(hit.similarity if hit.similarity is not None else hit.score) for hit in hits]
    if mode == "text":
        best = max(hit.score for hit in hits)
        return [_unit(hit.score / best) if best > 0 else 0.0 for hit in hits]
    rankings = (
        int(any(hit.vector_rank is not None for hit in hits))
        + int(any(hit.text_rank is not None for hit in hits))
        + int(bool(query_identifiers(query)) and any(hit.identifier_match for hit in hits))
    )
    best_possible = max(rankings, 1) / (RRF_K + 1)
    return [_unit(hit.score / best_possible) for hit in hits]


def _unit(value: float) -> float:
    return min(max(float(value), 0.0), 1.0)


def search(
    *,
    knowledge_base_id: int | str,
    query: str,
    top_k: int = 5,
    document_ids: Sequence[int] | None = None,
    mode: SearchMode = "hybrid",
) -> list[SearchHit]:
    """The ``top_k`` chunks of the knowledge base best matching ``query``, best first."""
    knowledge_base = knowledge_base_get(knowledge_base_id=knowledge_base_id)
    return search_knowledge_bases(
        knowledge_bases=[knowledge_base],
        query=query,
        top_k=top_k,
        document_ids=document_ids,
        mode=mode,
    )


def search_knowledge_bases(
    *,
    knowledge_bases: Sequence[KnowledgeBase],
    query: str,
    top_k: int = 5,
    document_ids: Sequence[int] | None = None,
    mode: SearchMode = "hybrid",
) -> list[SearchHit]:
    """Search several knowledge bases at once (an agent's). Bases sharing an embedding model
    are searched in one query with one query embedding; the rankings of bases of different
    models are merged by score (RRF scores are comparable across rankings, which is why
    hybrid is the default)."""
    query = query.strip()
    _check_search_args(query=query, top_k=top_k, mode=mode)
    by_model: dict[str, list[KnowledgeBase]] = {}
    for knowledge_base in knowledge_bases:
        by_model.setdefault(knowledge_base.embedding_model, []).append(knowledge_base)
    hits: list[SearchHit] = []
    for model, group in by_model.items():
        vector = None if mode == "text" else _embed_query(model, query)
        hits.extend(
            search_by_vector(
                knowledge_bases=group,
                query_text=query,
                query_vector=vector,
                top_k=top_k,
                document_ids=document_ids,
                mode=mode,
            )
        )
    return sorted(hits, key=lambda hit: -hit.score)[:top_k]


_QUERY_EMBEDDING_ERRORS: tuple[type[Exception], ...] = (
    *TRANSIENT_ERRORS,
    openai.APIError,
    genai_errors.APIError,
)


def _embed_query(model: str, query: str) -> list[float]:
    try:
        return configured_embedder(model).embed_query(query)
    except _QUERY_EMBEDDING_ERRORS as exc:
        # A search must answer in a call's time: no retries here; say what is wrong.
        raise EmbeddingProviderUnavailable(
            f"The embedding provider of {model} did not answer the query: {exc}"
        ) from exc


def _check_search_args(*, query: str, top_k: int, mode: str) -> None:
    errors: dict[str, list[str]] = {}
    if not query:
        errors["query"] = ["This field may not be blank."]
    if not 1 <= top_k <= MAX_TOP_K:
        errors["top_k"] = [f"Must be between 1 and {MAX_TOP_K}."]
    if mode not in SEARCH_MODES:
        errors["mode"] = [f"Choose one of: {', '.join(SEARCH_MODES)}."]
    if errors:
        raise ValidationFailed.for_fields(errors)


def search_by_vector(
    *,
    knowledge_bases: Sequence[KnowledgeBase],
    query_text: str,
    query_vector: Sequence[float] | None,
    top_k: int = 5,
    document_ids: Sequence[int] | None = None,
    mode: SearchMode = "hybrid",
) -> list[SearchHit]:
    """The search with the query already embedded (all bases must share one model). The
    benchmark calls this directly to time the database part alone."""
    sql, params = _search_sql(
        knowledge_bases=knowledge_bases,
        query_text=query_text,
        query_vector=query_vector,
        top_k=top_k,
        document_ids=document_ids,
        mode=mode,
    )
    # SET LOCAL only lasts for the transaction: a pooled connection goes back unchanged.
    with transaction.atomic(), connection.cursor() as cursor:
        _set_hnsw_options(cursor, candidates=_candidates(top_k))
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return [SearchHit(**row) for row in rows]


def search_explain(
    *,
    knowledge_bases: Sequence[KnowledgeBase],
    query_text: str,
    query_vector: Sequence[float] | None,
    top_k: int = 5,
    document_ids: Sequence[int] | None = None,
    mode: SearchMode = "hybrid",
    analyze: bool = False,
) -> str:
    """PostgreSQL's plan for exactly the query :func:`search_by_vector` runs."""
    sql, params = _search_sql(
        knowledge_bases=knowledge_bases,
        query_text=query_text,
        query_vector=query_vector,
        top_k=top_k,
        document_ids=document_ids,
        mode=mode,
    )
    options = "ANALYZE, BUFFERS" if analyze else "COSTS"
    with transaction.atomic(), connection.cursor() as cursor:
        _set_hnsw_options(cursor, candidates=_candidates(top_k))
        cursor.execute(f"EXPLAIN ({options}) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _candidates(top_k: int) -> int:
    return max(CANDIDATES_MIN, CANDIDATES_PER_RESULT * top_k)


def _set_hnsw_options(cursor: Any, *, candidates: int) -> None:
    # relaxed_order (pgvector 0.8): when the knowledge-base filter rejects index candidates,
    # the scan goes on until enough rows pass instead of returning fewer than asked for.
    cursor.execute(
        "SELECT set_config('hnsw.ef_search', %s, true),"
        " set_config('hnsw.iterative_scan', 'relaxed_order', true)",
        [str(max(HNSW_EF_SEARCH, candidates))],
    )


def _search_sql(
    *,
    knowledge_bases: Sequence[KnowledgeBase],
    query_text: str,
    query_vector: Sequence[float] | None,
    top_k: int,
    document_ids: Sequence[int] | None,
    mode: SearchMode,
) -> tuple[str, dict[str, Any]]:
    """One statement: each ranking in a CTE (LIMITed, so each can use its index), fused by a
    full join on the chunk id. Written in SQL because the ORM cannot express the fusion."""
    dimensions = {kb.embedding_dimensions for kb in knowledge_bases}
    if len(dimensions) != 1 or len({kb.embedding_model for kb in knowledge_bases}) != 1:
        raise ValueError("search_by_vector needs knowledge bases of one embedding model.")
    (width,) = dimensions
    column = EMBEDDING_COLUMNS[width]
    use_vector = mode in ("hybrid", "vector")
    use_text = mode in ("hybrid", "text")
    if use_vector and (query_vector is None or len(query_vector) != width):
        raise ValueError(f"A query vector of {width} dimensions is needed for {mode} search.")

    chunk = Chunk._meta.db_table
    params: dict[str, Any] = {
        "kbs": [kb.pk for kb in knowledge_bases],
        "docs": list(document_ids or []),
        "text": query_text,
        "candidates": _candidates(top_k),
        "top_k": top_k,
        "rrf_k": RRF_K,
        "config": FTS_CONFIG,
        "max_matches": KEYWORD_MAX_MATCHES,
    }
    doc_filter = "AND c.document_id = ANY(%(docs)s)" if document_ids else ""
    if use_vector and query_vector is not None:  # (a vector mode without one raised above)
        params["vector"] = "[" + ",".join(repr(float(x)) for x in query_vector) + "]"
        vector_cte = f"""
        vector_hits AS MATERIALIZED (
            SELECT c.id, c.{column} <=> %(vector)s::vector({width}) AS distance
            FROM {chunk} c
            WHERE c.knowledge_base_id = ANY(%(kbs)s) {doc_filter}
            ORDER BY c.{column} <=> %(vector)s::vector({width})
            LIMIT %(candidates)s
        ),
        vector_ranked AS (
            SELECT id, distance, row_number() OVER (ORDER BY distance, id) AS rank
            FROM vector_hits
        )"""
    else:
        vector_cte = """
        vector_ranked AS (
            SELECT NULL::bigint AS id, NULL::float8 AS distance, NULL::bigint AS rank LIMIT 0
        )"""
    if use_text:
        text_cte = _keyword_ctes(
            "text",
            query="plainto_tsquery(%(config)s::regconfig, %(text)s)",
            chunk=chunk,
            doc_filter=doc_filter,
        )
    else:
        text_cte = """
        text_ranked AS (
            SELECT NULL::bigint AS id, NULL::float4 AS score, NULL::bigint AS rank LIMIT 0
        )"""
    identifiers = query_identifiers(query_text) if mode == "hybrid" else []
    if identifiers:
        # Each identifier's lexemes ANDed (all parts of "SKU-77X-QZ"), identifiers ORed.
        parts = []
        for number, identifier in enumerate(identifiers):
            params[f"identifier{number}"] = identifier
            parts.append(f"plainto_tsquery(%(config)s::regconfig, %(identifier{number})s)")
        identifier_cte = _keyword_ctes(
            "identifier", query=" || ".join(parts), chunk=chunk, doc_filter=doc_filter
        )
    else:
        identifier_cte = """
        identifier_ranked AS (
            SELECT NULL::bigint AS id, NULL::float4 AS score, NULL::bigint AS rank LIMIT 0
        )"""
    score = {
        "hybrid": "COALESCE(1.0 / (%(rrf_k)s + v.rank), 0)"
        " + COALESCE(1.0 / (%(rrf_k)s + t.rank), 0)"
        " + COALESCE(1.0 / (%(rrf_k)s + i.rank), 0)",
        "vector": "1 - v.distance",
        "text": "t.score",
    }[mode]
    sql = f"""
    WITH {vector_cte},
    {text_cte},
    {identifier_cte},
    fused AS (
        SELECT COALESCE(v.id, t.id, i.id) AS id, ({score})::float8 AS score,
               v.distance, v.rank AS vector_rank, t.rank AS text_rank,
               i.id IS NOT NULL AS identifier_match
        FROM vector_ranked v
        FULL OUTER JOIN text_ranked t ON t.id = v.id
        FULL OUTER JOIN identifier_ranked i ON i.id = COALESCE(v.id, t.id)
        ORDER BY score DESC, COALESCE(v.rank, t.rank, i.rank), COALESCE(v.id, t.id, i.id)
        LIMIT %(top_k)s
    )
    SELECT c.id AS chunk_id, c.text, f.score, c.knowledge_base_id, c.document_id,
           d.title AS document_title, dv.number AS version, c.ordinal AS position,
           (1 - f.distance)::float8 AS similarity, f.vector_rank::int, f.text_rank::int,
           f.identifier_match
    FROM fused f
    JOIN {chunk} c ON c.id = f.id
    JOIN {Document._meta.db_table} d ON d.id = c.document_id
    JOIN {DocumentVersion._meta.db_table} dv ON dv.id = c.version_id
    ORDER BY f.score DESC, COALESCE(f.vector_rank, f.text_rank), f.id
    """
    return sql, params


def _keyword_ctes(name: str, *, query: str, chunk: str, doc_filter: str) -> str:
    """CTEs ranking the chunks that match a full-text ``query`` (all its words): at most
    KEYWORD_MAX_MATCHES are read and ranked, and when more match, the ranking abstains (is
    empty). Words that common say nothing about which chunk is best, and ranking tens of
    thousands of matches would cost more than the whole rest of the search."""
    return f"""
        {name}_query AS (SELECT {query} AS q),
        {name}_matches AS MATERIALIZED (
            SELECT c.id, ts_rank_cd(c.search_vector, {name}_query.q) AS score
            FROM {chunk} c, {name}_query
            WHERE c.knowledge_base_id = ANY(%(kbs)s) {doc_filter}
              AND c.search_vector @@ {name}_query.q
            LIMIT %(max_matches)s + 1
        ),
        {name}_ranked AS (
            SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank
            FROM {name}_matches
            WHERE (SELECT count(*) FROM {name}_matches) <= %(max_matches)s
            ORDER BY score DESC, id
            LIMIT %(candidates)s
        )"""
