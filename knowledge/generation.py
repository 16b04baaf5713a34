"""A version token for the organization's knowledge bases, for caches built from them.

Every write that changes a knowledge base's settings or existence replaces the token once it
commits (``knowledge_generation_bump``, called by knowledge.services). A cache that recorded
the token it saw *before* reading the database treats an entry with another token as a miss;
that is how agents.config learns that a knowledge base an agent used is gone, without the
knowledge app knowing who caches what. The token lives in Django's cache, whose key function
prefixes the active schema, so each organization has its own.

One token per organization rather than per knowledge base: a cache's warm path must know
every key it validates against before its first read, and which bases an agent uses is
inside the cached entry itself.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import transaction

KNOWLEDGE_GENERATION_KEY = "knowledge:generation"
# Outlives the entries it guards; if it is evicted anyway, every entry misses once.
KNOWLEDGE_GENERATION_TTL_SECONDS = 7 * 24 * 3600


def knowledge_generation_bump() -> None:
    """Make every cache entry built from this organization's knowledge bases stale, after the
    current transaction commits (at once outside one)."""
    transaction.on_commit(
        lambda: cache.set(
            KNOWLEDGE_GENERATION_KEY, uuid.uuid4().hex, KNOWLEDGE_GENERATION_TTL_SECONDS
        )
    )
