"""Knowledge bases and documents in the tenant-isolation contract (tests/isolation.py):
another organization's knowledge base or document is unreachable by id for reads, changes,
deletes, search, versions (listed or uploaded), diff and rollback."""

from __future__ import annotations

import itertools

from django_tenants.utils import tenant_context

from knowledge import services
from knowledge.models import Chunk, Document, KnowledgeBase
from tests.isolation import Resource, register


def _kb_create(org) -> object:
    knowledge_base = services.knowledge_base_create(name="Isolated")
    services.document_add(knowledge_base=knowledge_base, title="Private", content="Private text.")
    return knowledge_base.pk


def _kb_snapshot(org, pk) -> object:
    return (
        KnowledgeBase.objects.filter(pk=pk).values("name", "description").first(),
        Document.objects.filter(knowledge_base_id=pk).count(),
    )


def _document_create(org) -> object:
    knowledge_base = services.knowledge_base_create(name="Isolated documents")
    for number in itertools.count(1):
        # One document per name in a knowledge base: each try gets its own title.
        document = services.document_add(
            knowledge_base=knowledge_base, title=f"Private {number}", content="Private text."
        )
        services.document_update(document=document, content="Private text, v2.")
        # The contract swaps the row's id for a missing one in each URL; the base's id must
        # not be swapped with it.
        if document.pk != knowledge_base.pk:
            return document.pk


def _kb_of(org, document_pk) -> int:
    with tenant_context(org):
        return Document.objects.get(pk=document_pk).knowledge_base_id


def _document_url(org, pk) -> str:
    return f"/api/v1/knowledge-bases/{_kb_of(org, pk)}/documents/{pk}/"


def _document_snapshot(org, pk) -> object:
    return (
        Document.objects.filter(pk=pk).values("title", "latest_version_id").first(),
        Chunk.objects.filter(document_id=pk).count(),
    )


register(
    Resource(
        name="knowledge_base",
        create=_kb_create,
        list_url=lambda org: "/api/v1/knowledge-bases/",
        detail_url=lambda org, pk: f"/api/v1/knowledge-bases/{pk}/",
        update_payload={"name": "Taken over"},
        snapshot=_kb_snapshot,
        actions=lambda org, pk: [
            ("post", f"/api/v1/knowledge-bases/{pk}/search/", {"query": "private"}),
            ("get", f"/api/v1/knowledge-bases/{pk}/documents/", None),
            (
                "post",
                f"/api/v1/knowledge-bases/{pk}/documents/",
                {"title": "Planted", "content": "Planted text."},
            ),
        ],
    )
)
register(
    Resource(
        name="knowledge_document",
        create=_document_create,
        # Documents are listed per knowledge base: the base's list URL is an action below.
        list_url=None,
        detail_url=_document_url,
        update_payload={"title": "Taken over", "content": "Overwritten."},
        snapshot=_document_snapshot,
        actions=lambda org, pk: [
            ("get", _document_url(org, pk) + "versions/", None),
            ("get", _document_url(org, pk) + "versions/1/", None),
            ("get", _document_url(org, pk) + "versions/diff/?from=1&to=2", None),
            ("post", _document_url(org, pk) + "rollback/", {"version": 1}),
            ("post", _document_url(org, pk) + "versions/", {"content": "Planted version."}),
            ("get", _document_url(org, pk).rsplit("/", 2)[0] + "/", None),
        ],
    )
)
