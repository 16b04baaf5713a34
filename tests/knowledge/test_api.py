"""Knowledge bases and documents through the API: viewers read and search, admins manage."""

import pytest

from knowledge import services
from knowledge.models import Document, KnowledgeBase
from tests.knowledge.helpers import doc_url, kb_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def clients(org_a, make_api_key, bearer):
    return {role: bearer(make_api_key(org_a, role)) for role in ("viewer", "member", "admin")}


@pytest.fixture
def document(kb, ingesting):
    with ingesting():
        return services.document_add(knowledge_base=kb, title="Hours", content="Open 9 to 5.")


def test_an_admin_creates_a_knowledge_base_with_its_model_and_chunking(clients, in_org_a):
    response = clients["admin"].post(
        "/api/v1/knowledge-bases/",
        {"name": "Support", "description": "FAQ", "chunk_size": 120, "chunk_overlap": 20},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["embedding_model"] == "local/all-MiniLM-L6-v2"
    assert body["embedding_dimensions"] == 384
    assert (body["chunk_size"], body["chunk_overlap"], body["document_count"]) == (120, 20, 0)
    assert KnowledgeBase.objects.filter(pk=body["id"], name="Support").exists()


def test_a_hosted_model_needs_its_key(clients, settings):
    settings.OPENAI_API_KEY = ""

    response = clients["admin"].post(
        "/api/v1/knowledge-bases/",
        {"name": "Hosted", "embedding_model": "openai/text-embedding-3-small"},
        format="json",
    )

    assert response.status_code == 400
    assert "OPENAI_API_KEY" in response.json()["error"]["details"]["fields"]["embedding_model"][0]


def test_the_model_and_chunking_cannot_change_after_creation(kb, clients):
    response = clients["admin"].patch(
        kb_url(kb), {"name": "Renamed", "embedding_model": "openai/text-embedding-3-small"}
    )
    renamed = clients["admin"].patch(kb_url(kb), {"name": "Renamed", "description": "New"})

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["fields"]) == {"embedding_model"}
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["description"]) == ("Renamed", "New")


def test_a_viewer_reads_and_searches_but_cannot_change_anything(kb, document, clients):
    viewer = clients["viewer"]

    assert viewer.get("/api/v1/knowledge-bases/").json()["results"][0]["document_count"] == 1
    assert viewer.get(kb_url(kb)).status_code == 200
    assert viewer.get(kb_url(kb, "documents/")).json()["count"] == 1
    assert viewer.get(doc_url(document, "versions/")).status_code == 200
    assert viewer.post(kb_url(kb, "search/"), {"query": "opening hours"}).status_code == 200
    refused = [
        viewer.post("/api/v1/knowledge-bases/", {"name": "X"}),
        viewer.patch(kb_url(kb), {"name": "X"}),
        viewer.delete(kb_url(kb)),
        viewer.post(kb_url(kb, "documents/"), {"title": "X", "content": "Y"}),
        viewer.patch(doc_url(document), {"title": "X"}),
        viewer.delete(doc_url(document)),
        viewer.post(doc_url(document, "rollback/"), {"version": 1}),
        clients["member"].post(kb_url(kb, "documents/"), {"title": "X", "content": "Y"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert refused[0].json()["error"]["code"] == "permission_denied"
    assert Document.objects.filter(knowledge_base=kb).count() == 1


def test_deleting_a_knowledge_base_deletes_its_documents(kb, document, clients):
    response = clients["admin"].delete(kb_url(kb))

    assert response.status_code == 204
    assert not Document.objects.filter(pk=document.pk).exists()
    assert clients["admin"].get(kb_url(kb)).json()["error"]["code"] == "knowledge_base_not_found"


def test_documents_are_listed_and_filtered_by_type(kb, document, clients, ingesting):
    with ingesting():
        services.document_add(
            knowledge_base=kb, title="Guide", content="# Guide\nText.", source_type="markdown"
        )

    listed = clients["viewer"].get(kb_url(kb, "documents/")).json()
    markdown = clients["viewer"].get(kb_url(kb, "documents/"), {"source_type": "markdown"}).json()

    assert [d["title"] for d in listed["results"]] == ["Guide", "Hours"]
    assert [d["title"] for d in markdown["results"]] == ["Guide"]


def test_deleting_a_knowledge_base_refreshes_the_agents_cached_config(
    in_org_a, django_capture_on_commit_callbacks
):
    from agents.selectors import agent_config_resolve
    from agents.services import agent_create
    from knowledge.services import knowledge_base_create, knowledge_base_delete

    with django_capture_on_commit_callbacks(execute=True):
        kb = knowledge_base_create(name="FAQ")
        agent = agent_create(name="Support", knowledge_base_ids=[kb.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert agent_config_resolve(agent_id=agent.pk).knowledge_base_ids == (kb.pk,)
    with django_capture_on_commit_callbacks(execute=True):
        knowledge_base_delete(knowledge_base=kb)
    assert agent_config_resolve(agent_id=agent.pk).knowledge_base_ids == ()


def test_knowledge_base_names_and_descriptions_have_limits(kb, clients):
    too_long = clients["admin"].post(
        "/api/v1/knowledge-bases/",
        {"name": "n" * 201, "description": "d" * 2_001},
        format="json",
    )
    renamed = clients["admin"].patch(kb_url(kb), {"description": "d" * 2_001}, format="json")

    assert too_long.status_code == 400
    assert set(too_long.json()["error"]["details"]["fields"]) == {"name", "description"}
    assert renamed.status_code == 400
