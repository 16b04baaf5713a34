"""Writes for knowledge bases: create with fixed embedding and chunking settings, rename,
delete. Every change replaces the organization's knowledge generation after it commits, so
caches built from the bases (the agents' call configurations) go stale by themselves."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from knowledge.chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from knowledge.embeddings import EMBEDDING_MODELS, LOCAL_MINILM, embedding_model_problem
from knowledge.generation import knowledge_generation_bump
from knowledge.models import KnowledgeBase
from organizations.models import User
from voiceagents.exceptions import ValidationFailed

__all__ = [
    "KNOWLEDGE_BASE_SETTINGS_FIELDS",
    "MAX_CHUNK_SIZE",
    "knowledge_base_create",
    "knowledge_base_delete",
    "knowledge_base_settings_errors",
    "knowledge_base_update",
]

MAX_CHUNK_SIZE = 1000
KNOWLEDGE_BASE_SETTINGS_FIELDS = ("name", "description")


def knowledge_base_settings_errors(
    *, name: str, embedding_model: str, chunk_size: int, chunk_overlap: int
) -> dict[str, list[str]]:
    """Field -> problems with these settings (empty when valid). The admin form shows them
    next to its fields; knowledge_base_create refuses them."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["This field may not be blank."]
    if embedding_model not in EMBEDDING_MODELS:
        errors["embedding_model"] = [f"Choose one of: {', '.join(EMBEDDING_MODELS)}."]
    elif problem := embedding_model_problem(embedding_model):
        errors["embedding_model"] = [problem]
    if not 16 <= chunk_size <= MAX_CHUNK_SIZE:
        errors["chunk_size"] = [f"Must be between 16 and {MAX_CHUNK_SIZE} tokens."]
    elif not 0 <= chunk_overlap < chunk_size // 2:
        errors["chunk_overlap"] = ["Must be at least 0 and less than half of chunk_size."]
    return errors


def knowledge_base_create(
    *,
    name: str,
    description: str = "",
    embedding_model: str = LOCAL_MINILM,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    created_by: User | None = None,
) -> KnowledgeBase:
    """Create a knowledge base. Its embedding model and chunking are fixed from now on."""
    errors = knowledge_base_settings_errors(
        name=name,
        embedding_model=embedding_model,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
    )
    if errors:
        raise ValidationFailed.for_fields(errors)
    return KnowledgeBase.objects.create(
        name=name.strip(),
        description=description,
        embedding_model=embedding_model,
        embedding_dimensions=EMBEDDING_MODELS[embedding_model],
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        created_by=created_by,
    )


def knowledge_base_update(*, knowledge_base: KnowledgeBase, data: dict[str, Any]) -> KnowledgeBase:
    unknown = set(data) - set(KNOWLEDGE_BASE_SETTINGS_FIELDS)
    if unknown:
        raise ValidationFailed.for_fields(
            {
                field: ["This field cannot be changed; create a new knowledge base instead."]
                for field in sorted(unknown)
            }
        )
    if "name" in data and not str(data["name"]).strip():
        raise ValidationFailed.for_fields({"name": ["This field may not be blank."]})
    for field, value in data.items():
        setattr(knowledge_base, field, value.strip() if field == "name" else value)
    with transaction.atomic():
        knowledge_base.save(update_fields=[*data.keys(), "updated_at"])
        knowledge_generation_bump()
    return knowledge_base


def knowledge_base_delete(*, knowledge_base: KnowledgeBase) -> None:
    """Delete the base with its documents, versions and chunks; agents lose it as a source
    (their cached call configurations list its id: the generation bump makes them stale)."""
    with transaction.atomic():
        knowledge_base.delete()
        knowledge_generation_bump()
