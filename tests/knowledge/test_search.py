"""Hybrid search: vector similarity fused with full-text rank, over current versions only,
served by the HNSW index of the knowledge base's vector width."""

import re

import pytest
from django.db import connection

from knowledge import selectors, services
from knowledge.models import Document
from tests.knowledge.helpers import kb_url, load_random_chunks

pytestmark = pytest.mark.django_db

WARRANTY_FAQ = [
    "The warranty on all kettles lasts two years from the date of purchase.",
    "Our toasters come with a three year warranty covering parts and labour.",
    "Warranty claims for blenders need the original receipt.",
    "Extended warranty plans can be bought for any coffee machine.",
    "A warranty repair usually takes ten working days.",
    "The warranty does not cover damage from dropping the appliance.",
    "Vacuum cleaners have a five year motor warranty.",
    "Warranty service is available in every European country.",
]
GASKET = "Part SKU-77X-QZ is the replacement rubber gasket for the garden hose reel, sold in fours."


@pytest.fixture
def catalogue(kb, ingesting):
    with ingesting():
        for number, text in enumerate(WARRANTY_FAQ):
            services.document_add(knowledge_base=kb, title=f"Warranty {number}", content=text)
        services.document_add(knowledge_base=kb, title="Spare parts", content=GASKET)
    return kb


def test_hybrid_search_finds_an_exact_code_that_vector_search_ranks_low(catalogue):
    query = "What is the warranty on the SKU-77X-QZ?"

    vector_only = selectors.search(
        knowledge_base_id=catalogue.pk, query=query, top_k=9, mode="vector"
    )
    hybrid = selectors.search(knowledge_base_id=catalogue.pk, query=query, top_k=3)

    vector_titles = [hit.document_title for hit in vector_only]
    assert vector_titles.index("Spare parts") >= 5  # the embedding misses the code
    assert hybrid[0].document_title == "Spare parts"
    # Not all the question's words are in the chunk: the exact identifier carries it.
    assert hybrid[0].identifier_match and hybrid[0].text_rank is None
    assert hybrid[0].vector_rank == vector_titles.index("Spare parts") + 1


def test_a_spoken_code_without_hyphens_is_found_by_its_words(catalogue):
    hits = selectors.search(knowledge_base_id=catalogue.pk, query="SKU 77X QZ", top_k=1)

    assert hits[0].document_title == "Spare parts"
    assert hits[0].text_rank == 1


def test_a_product_name_is_found_by_keywords(catalogue):
    hits = selectors.search(knowledge_base_id=catalogue.pk, query="hose reel gasket", top_k=1)

    assert hits[0].document_title == "Spare parts" and hits[0].text_rank == 1


def test_words_too_common_to_tell_chunks_apart_get_no_keyword_vote(catalogue, monkeypatch):
    monkeypatch.setattr(selectors, "KEYWORD_MAX_MATCHES", 3)  # "warranty" is in 8 chunks

    common = selectors.search(knowledge_base_id=catalogue.pk, query="warranty", top_k=9)
    rare = selectors.search(knowledge_base_id=catalogue.pk, query="warranty repair", top_k=9)

    assert all(hit.text_rank is None for hit in common)
    assert [hit.text_rank for hit in rare if hit.text_rank] == [1]


def test_only_the_current_version_of_a_document_is_searched(kb, ingesting):
    with ingesting():
        document = services.document_add(
            knowledge_base=kb, title="Hours", content="The shop opens at 9 on Saturdays."
        )
        services.document_update(document=document, content="The shop is closed on Saturdays.")

    hits = selectors.search(knowledge_base_id=kb.pk, query="Saturday opening hours", top_k=10)
    keyword_hits = selectors.search(knowledge_base_id=kb.pk, query="opens 9", top_k=10, mode="text")

    assert [(hit.version, hit.text) for hit in hits] == [(2, "The shop is closed on Saturdays.")]
    assert keyword_hits == []


def test_search_can_be_limited_to_some_documents(catalogue):
    parts = Document.objects.get(knowledge_base=catalogue, title="Spare parts")

    hits = selectors.search(
        knowledge_base_id=catalogue.pk, query="warranty", top_k=5, document_ids=[parts.pk]
    )

    assert [hit.document_title for hit in hits] == ["Spare parts"]


@pytest.mark.parametrize("model", ["local/all-MiniLM-L6-v2", "openai/text-embedding-3-small"])
def test_search_uses_the_hnsw_index_of_its_vector_width(model, in_org_a, settings):
    """Bases of 384 and 1536 dimensions each get the HNSW index of their width.

    On a small table PostgreSQL rightly prefers an exact scan (pgvector's cost model assumes an
    HNSW scan visits a large multiple of ef_search rows, so the index only wins on bigger
    tables). Test-sized data therefore turns the exact alternatives (sequential scan, or the
    knowledge-base index plus a sort) off: the plan then shows the index of the base's width
    *serves* the query, which is what mixing widths in one untyped column would prevent.
    bench/bench_knowledge_search.py shows PostgreSQL choosing the index by itself at 100,000
    chunks.
    """
    settings.OPENAI_API_KEY = "sk-not-used"  # vectors are given; no embedding call is made
    kb = services.knowledge_base_create(name=model, embedding_model=model)
    vectors = load_random_chunks(kb, count=1000)

    with connection.cursor() as cursor:  # SET LOCAL: until the test's rollback
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
    plan = selectors.search_explain(
        knowledge_bases=[kb], query_text="filler", query_vector=vectors[0].tolist(), top_k=5
    )
    hits = selectors.search_by_vector(
        knowledge_bases=[kb],
        query_text="filler",
        query_vector=vectors[0].tolist(),
        top_k=5,
        mode="vector",
    )

    width = kb.embedding_dimensions
    assert re.search(rf"Index Scan using chunk_embedding_{width}_hnsw", plan), plan
    assert f"Order By: (embedding_{width} <=> " in plan
    assert hits[0].text == "filler chunk 0" and hits[0].similarity == pytest.approx(1, abs=1e-5)


def test_the_search_api_returns_ranked_chunks_to_a_viewer(catalogue, org_a, make_api_key, bearer):
    viewer = bearer(make_api_key(org_a, "viewer"))

    response = viewer.post(
        kb_url(catalogue, "search/"), {"query": "product warranty", "top_k": 5}, format="json"
    )

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert len(results) == 5
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    first = results[0]
    assert set(first) >= {"text", "score", "document_title", "version", "position"}
    assert "warranty" in first["text"].lower()


def test_search_input_is_validated(catalogue, org_a, make_api_key, bearer):
    viewer = bearer(make_api_key(org_a, "viewer"))

    response = viewer.post(kb_url(catalogue, "search/"), {"query": "", "top_k": 500})

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["fields"]) == {"query", "top_k"}


def test_a_search_whose_query_cannot_be_embedded_answers_503(
    openai_kb, settings, org_a, make_api_key, bearer
):
    settings.OPENAI_API_KEY = "sk-revoked"
    viewer = bearer(make_api_key(org_a, "viewer"))

    response = viewer.post(kb_url(openai_kb, "search/"), {"query": "warranty"}, format="json")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "embedding_provider_unavailable"
