"""The ``knowledge_search`` agent tool: a thin wrapper over the hybrid search, limited to the
knowledge bases attached to the agent. Synchronous; the call bridge runs it through
``database_sync_to_async`` in the call's organization schema."""

from __future__ import annotations

from typing import Any

from knowledge import selectors
from knowledge.embeddings import LOCAL_MINILM, configured_embedder
from knowledge.models import KnowledgeBase

# What the model sees of a hit: enough to answer and to cite, nothing internal.
_TOOL_FIELDS = ("text", "score", "document_title", "version", "position")


def knowledge_search_for_agent(
    *, agent_id: int, query: str, top_k: int = 5
) -> list[dict[str, Any]]:
    """The agent's best ``top_k`` chunks for ``query`` across its knowledge bases, best
    first, as ``{"text", "score", "document_title", "version", "position"}`` dicts. An
    agent without knowledge bases (or an unknown agent) gets an empty list."""
    knowledge_bases = list(KnowledgeBase.objects.filter(agents__id=agent_id).distinct())
    if not knowledge_bases or not query.strip():
        return []
    hits = selectors.search_knowledge_bases(
        knowledge_bases=knowledge_bases, query=query, top_k=min(max(top_k, 1), selectors.MAX_TOP_K)
    )
    return [{field: getattr(hit, field) for field in _TOOL_FIELDS} for hit in hits]


def warm_up() -> None:
    """Load the local embedding model now (a second or two) rather than on a caller's first
    question; the model then stays loaded for the life of the process."""
    configured_embedder(LOCAL_MINILM).embed_query("warm up")
