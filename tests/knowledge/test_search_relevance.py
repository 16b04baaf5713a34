"""Search results' relevance from 0 to 1, the figure the search playground shows operators in
place of scores on the rankings' own scales; and a document's chunks as its page lists them."""

import pytest

from knowledge import selectors, services
from knowledge.selectors import RRF_K, SearchHit, search_relevance

pytestmark = pytest.mark.django_db


def _hit(*, score: float, similarity=None, vector_rank=None, text_rank=None, identifier=False):
    return SearchHit(
        chunk_id=1,
        text="",
        score=score,
        knowledge_base_id=1,
        document_id=1,
        document_title="",
        version=1,
        position=0,
        similarity=similarity,
        vector_rank=vector_rank,
        text_rank=text_rank,
        identifier_match=identifier,
    )


def test_hybrid_relevance_is_the_share_of_the_best_possible_fused_score():
    first_in_both = _hit(score=2 / (RRF_K + 1), vector_rank=1, text_rank=1)
    meaning_only = _hit(score=1 / (RRF_K + 1), vector_rank=1)

    relevance = search_relevance([first_in_both, meaning_only], query="warranty", mode="hybrid")

    assert relevance == [1.0, 0.5]


def test_a_ranking_that_found_nothing_does_not_lower_the_relevance():
    # No chunk contains all the words: only meaning had a say, and the first by meaning is 100%.
    hits = [_hit(score=1 / (RRF_K + 1), vector_rank=1), _hit(score=1 / (RRF_K + 3), vector_rank=3)]

    relevance = search_relevance(hits, query="how long does it last", mode="hybrid")

    assert relevance[0] == 1.0 and 0.9 < relevance[1] < 1.0


def test_vector_relevance_is_the_similarity_and_text_relevance_is_relative_to_the_best():
    assert search_relevance([_hit(score=0.7, similarity=0.7)], query="q", mode="vector") == [0.7]
    assert search_relevance([_hit(score=-0.2, similarity=-0.2)], query="q", mode="vector") == [0]
    assert search_relevance([_hit(score=0.4), _hit(score=0.1)], query="q", mode="text") == [
        1.0,
        0.25,
    ]
    assert search_relevance([], query="q") == []


def test_relevance_of_a_real_search_ranks_like_the_scores(kb, ingesting):
    with ingesting():
        services.document_add(
            knowledge_base=kb, title="Warranty", content="The warranty lasts two years."
        )
        services.document_add(knowledge_base=kb, title="Parking", content="Parking is free.")

    hits = selectors.search(knowledge_base_id=kb.pk, query="how long is the warranty", top_k=5)
    relevance = search_relevance(hits, query="how long is the warranty")

    assert hits[0].document_title == "Warranty"
    assert relevance == sorted(relevance, reverse=True)
    assert relevance[0] == 1.0  # first by meaning and the only one with the words


def test_a_documents_chunks_are_its_current_versions_in_order(kb, ingesting):
    with ingesting():
        document = services.document_add(
            knowledge_base=kb,
            title="Handbook",
            content="\n\n".join(f"Section {n}. " + "word " * 150 for n in range(4)),
        )
        services.document_version_add(
            document=document, content="\n\n".join(f"Part {n}. " + "text " * 150 for n in range(3))
        )

    chunks = list(selectors.document_chunk_list(document=document))

    assert len(chunks) >= 3
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    assert {chunk.version.number for chunk in chunks} == {2}
    assert chunks[0].text.startswith("Part 0.")


def test_the_search_api_gives_each_hit_its_relevance(kb, ingesting, org_a, make_api_key, bearer):
    with ingesting():
        services.document_add(
            knowledge_base=kb, title="Warranty", content="The warranty lasts two years."
        )
        services.document_add(knowledge_base=kb, title="Parking", content="Parking is free.")
    viewer = bearer(make_api_key(org_a, "viewer"))

    body = viewer.post(
        f"/api/v1/knowledge-bases/{kb.pk}/search/", {"query": "how long is the warranty"}
    ).json()

    relevance = [hit["relevance"] for hit in body["results"]]
    assert body["results"][0]["document_title"] == "Warranty"
    assert relevance[0] == 1.0 and 0 < relevance[1] < 1.0
