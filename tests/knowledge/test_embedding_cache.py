"""An unchanged chunk is never embedded twice: a small edit of a long document costs a few
embeddings, a rollback none. Counted on the OpenAI fake's request log, through the real SDK."""

import pytest

from knowledge import services
from knowledge.chunking import chunk_document
from knowledge.extraction import extract_document
from knowledge.models import Chunk, IngestionStatus
from tests.knowledge.helpers import embedded_texts

pytestmark = pytest.mark.django_db

SECTIONS = [
    f"# Product line {n}\n\n"
    + " ".join(
        f"Model {n}-{m} has feature number {m} and weighs {m + n} kilograms." for m in range(8)
    )
    for n in range(12)
]
LONG = "\n\n".join(SECTIONS)


def chunks_of(markdown: str) -> set[str]:
    document = extract_document(data=markdown.encode(), source_type="markdown")
    return {chunk.text for chunk in chunk_document(document, chunk_size=40, chunk_overlap=0)}


@pytest.fixture
def small_chunks_kb(in_org_a, openai_fake):
    return services.knowledge_base_create(
        name="Catalogue",
        embedding_model="openai/text-embedding-3-small",
        chunk_size=40,
        chunk_overlap=0,
    )


def test_a_small_edit_of_a_long_document_embeds_only_the_changed_chunks(
    small_chunks_kb, openai_fake, ingesting
):
    with ingesting():
        document = services.document_add(
            knowledge_base=small_chunks_kb, title="Catalogue", content=LONG, source_type="markdown"
        )
    first = len(embedded_texts(openai_fake))
    total = Chunk.objects.filter(document=document).count()
    assert first == total >= 24

    edited = LONG.replace("Model 5-3 has feature number 3", "Model 5-3 has feature number 33")
    with ingesting():
        services.document_update(document=document, content=edited)

    new_texts = embedded_texts(openai_fake)[first:]
    assert set(new_texts) == chunks_of(edited) - chunks_of(LONG)
    assert len(new_texts) == 1
    assert "feature number 33" in new_texts[0]
    version = document.versions.get(number=2)
    assert (version.status, version.chunks_total, version.chunks_embedded) == (
        IngestionStatus.READY,
        total,
        1,
    )


def test_a_rollback_and_a_copy_in_another_document_embed_nothing(
    small_chunks_kb, openai_fake, ingesting
):
    with ingesting():
        document = services.document_add(
            knowledge_base=small_chunks_kb, title="A", content=SECTIONS[0], source_type="markdown"
        )
        services.document_update(document=document, content=SECTIONS[1])
    paid = len(embedded_texts(openai_fake))

    with ingesting():
        services.document_rollback(document=document, version_number=1)
        services.document_add(
            knowledge_base=small_chunks_kb,
            title="Copy",
            content=SECTIONS[0],
            source_type="markdown",
        )

    assert len(embedded_texts(openai_fake)) == paid
    assert document.versions.get(number=3).chunks_embedded == 0


def test_embeddings_are_sent_in_batches(in_org_a, openai_fake, ingesting):
    kb = services.knowledge_base_create(
        name="Batches",
        embedding_model="openai/text-embedding-3-small",
        chunk_size=20,
        chunk_overlap=0,
    )
    text = " ".join(f"Sentence number {n} is here." for n in range(800))

    with ingesting():
        document = services.document_add(knowledge_base=kb, title="Many", content=text)

    chunks = Chunk.objects.filter(document=document).count()
    sizes = [len(request.body["input"]) for request in openai_fake.requests]
    assert sum(sizes) == chunks > 256
    assert sizes[0] == 256 and len(sizes) == 2
