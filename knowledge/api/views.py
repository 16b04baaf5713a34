"""The knowledge-base API. Views validate, call one service or selector, and render."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from knowledge import selectors, services
from knowledge.api.serializers import (
    DocumentContentSerializer,
    DocumentCreateSerializer,
    DocumentSerializer,
    DocumentVersionDetailSerializer,
    DocumentVersionSerializer,
    DocumentWriteSerializer,
    KnowledgeBaseCreateSerializer,
    KnowledgeBaseSerializer,
    KnowledgeBaseUpdateSerializer,
    RollbackSerializer,
    SearchHitSerializer,
    SearchRequestSerializer,
    VersionDiffSerializer,
)
from knowledge.exceptions import DocumentAlreadyExists, DocumentVersionNotFound
from knowledge.models import Document, KnowledgeBase
from organizations.actors import request_user
from organizations.api.base import OrganizationModelViewSet
from organizations.models import Role
from voiceagents.api.parsers import JSONParser
from voiceagents.api.schema import error_response

# JSON for pasted text, multipart/form-data for a file upload.
_DOCUMENT_UPLOAD = {
    "application/json": DocumentWriteSerializer,
    "multipart/form-data": DocumentWriteSerializer,
}
_DOCUMENT_CREATE = {
    "application/json": DocumentCreateSerializer,
    "multipart/form-data": DocumentCreateSerializer,
}
_VERSION_UPLOAD = {
    "application/json": DocumentContentSerializer,
    "multipart/form-data": DocumentContentSerializer,
}


@extend_schema_view(
    list=extend_schema(
        summary="List knowledge bases",
        description="The organization's knowledge bases, by name, with their document counts.",
    ),
    retrieve=extend_schema(
        summary="Get a knowledge base",
        description="Its settings (embedding model, chunking) and document count.",
    ),
)
class KnowledgeBaseViewSet(OrganizationModelViewSet):
    serializer_class = KnowledgeBaseSerializer
    action_roles = {"search": Role.VIEWER}

    def get_queryset(self):
        return selectors.knowledge_base_list()

    def get_object(self) -> KnowledgeBase:
        return selectors.knowledge_base_get(knowledge_base_id=self.kwargs["pk"])

    @extend_schema(
        summary="Create a knowledge base",
        description="Admins only. Documents added to it are split into chunks of `chunk_size` "
        "tokens and embedded with `embedding_model`, which cannot change later. A hosted model "
        "needs an API key for its provider, the organization's credential or the platform's (400 "
        "otherwise).",
        request=KnowledgeBaseCreateSerializer,
        responses={201: KnowledgeBaseSerializer},
        examples=[
            OpenApiExample(
                "Support articles", value={"name": "Support articles"}, request_only=True
            )
        ],
    )
    def create(self, request):
        data = KnowledgeBaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        knowledge_base = services.knowledge_base_create(
            **data.validated_data, created_by=request_user(request)
        )
        knowledge_base = selectors.knowledge_base_get(knowledge_base_id=knowledge_base.pk)
        return Response(
            KnowledgeBaseSerializer(knowledge_base).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Rename a knowledge base",
        description="Admins only: its name and description. The embedding model and chunking "
        "cannot change (400): create another knowledge base instead.",
        request=KnowledgeBaseUpdateSerializer,
        responses=KnowledgeBaseSerializer,
    )
    def partial_update(self, request, pk=None):
        knowledge_base = self.get_object()
        data = KnowledgeBaseUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        # Fields the serializer does not know (embedding_model...) are refused by the service.
        changes = dict(data.validated_data) | {
            key: value for key, value in request.data.items() if key not in data.fields
        }
        services.knowledge_base_update(knowledge_base=knowledge_base, data=changes)
        return Response(KnowledgeBaseSerializer(self.get_object()).data)

    @extend_schema(
        summary="Delete a knowledge base",
        description="Admins only. Deletes it with its documents; agents using it no longer "
        "search it.",
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        services.knowledge_base_delete(knowledge_base=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Search a knowledge base",
        description="Viewers may search. The best `top_k` chunks for `query`: `hybrid` "
        "(default) combines meaning (`vector`) with words (`text`). Only ready versions are "
        "searched.",
        request=SearchRequestSerializer,
        responses={
            200: inline_serializer("SearchResults", {"results": SearchHitSerializer(many=True)}),
            502: error_response("The embedding provider gave an answer that cannot be used."),
            503: error_response(
                "`embedding_provider_unavailable`: the embedding provider did not answer; "
                "retry shortly."
            ),
        },
        examples=[
            OpenApiExample(
                "A question", value={"query": "When do you open?", "top_k": 3}, request_only=True
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def search(self, request, pk=None):
        knowledge_base = self.get_object()  # a missing one is a 404 whatever the body
        data = SearchRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hits = selectors.search(knowledge_base_id=knowledge_base.pk, **data.validated_data)
        relevance = selectors.search_relevance(
            hits, query=data.validated_data["query"], mode=data.validated_data["mode"]
        )
        results = SearchHitSerializer(hits, many=True).data
        for result, value in zip(results, relevance, strict=True):
            result["relevance"] = round(value, 4)
        return Response({"results": results})


@extend_schema_view(
    list=extend_schema(
        summary="List documents",
        description="The knowledge base's documents, by title, each with its latest "
        "version's ingestion. Filter by `source_type`; order by `title`, `created_at` or "
        "`updated_at`.",
    ),
    retrieve=extend_schema(
        summary="Get a document",
        description="The document with its current and latest version numbers and how the "
        "latest version's ingestion is going.",
    ),
)
class DocumentViewSet(OrganizationModelViewSet):
    """Documents of one knowledge base: /knowledge-bases/{kb_id}/documents/."""

    serializer_class = DocumentSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_fields = ["source_type"]
    ordering_fields = ["title", "created_at", "updated_at"]

    @property
    def knowledge_base(self) -> KnowledgeBase:
        if not hasattr(self, "_knowledge_base"):
            self._knowledge_base = selectors.knowledge_base_get(
                knowledge_base_id=self.kwargs["kb_id"]
            )
        return self._knowledge_base

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no URL kwargs
            return Document.objects.none()
        return selectors.document_list(knowledge_base=self.knowledge_base)

    def get_object(self) -> Document:
        return selectors.document_get(
            knowledge_base=self.knowledge_base, document_id=self.kwargs["pk"]
        )

    @extend_schema(
        summary="Add a document",
        description="Admins only. Paste text as `content` (JSON), or upload a `file` "
        "(multipart/form-data): text, Markdown, HTML, PDF, or a CSV of questions and "
        "answers. The type is guessed from the file unless `source_type` says it. The "
        "document is searchable once its ingestion is `ready`; poll the document to follow "
        "it. A knowledge base holds one document per name: an upload named like an existing "
        "document is a 409 `document_exists` naming it (`details.document_id`, "
        "`details.new_version_url`), unless `if_exists` is `new_version`: then it becomes a "
        "new version of that document, which is returned (without a new version when the "
        "content is unchanged).",
        request=_DOCUMENT_CREATE,
        responses={
            201: DocumentSerializer,
            409: error_response(
                "`document_exists`: a document of this name exists; upload a new version of "
                "it, or send `if_exists: new_version`, or another title."
            ),
        },
        examples=[
            OpenApiExample(
                "Pasted text",
                value={
                    "title": "Opening hours",
                    "content": "We open at nine and close at five, Monday to Friday.",
                    "metadata": {"team": "front desk"},
                },
                request_only=True,
                media_type="application/json",
            )
        ],
    )
    def create(self, request, kb_id=None):
        knowledge_base = self.knowledge_base  # a missing one is a 404 whatever the body
        data = DocumentCreateSerializer(data=request.data, context={"require_content": True})
        data.is_valid(raise_exception=True)
        try:
            document = services.document_add(
                knowledge_base=knowledge_base,
                title=data.validated_data.get("title", ""),
                metadata=data.validated_data.get("metadata"),
                author=request_user(request),
                if_exists=data.validated_data["if_exists"],
                **data.upload_kwargs(),
            )
        except DocumentAlreadyExists as exc:
            # Where to send the same body to make it a version of that document instead.
            exc.details["new_version_url"] = request.build_absolute_uri(
                f"{exc.details['document_id']}/versions/"
            )
            raise
        document = selectors.document_get(
            knowledge_base=self.knowledge_base, document_id=document.pk
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a document",
        description="Admins only. New `content` or a new `file` adds a version (the current "
        "one stays searchable until the new one is ready); `title` and `metadata` change in "
        "place. A title another document of the knowledge base has is refused.",
        request=_DOCUMENT_UPLOAD,
        responses={
            200: DocumentSerializer,
            409: error_response("`document_exists`: another document has this title."),
        },
    )
    def partial_update(self, request, kb_id=None, pk=None):
        document = self.get_object()
        data = DocumentWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.document_update(
            document=document,
            title=data.validated_data.get("title"),
            metadata=data.validated_data.get("metadata"),
            author=request_user(request),
            **data.upload_kwargs(),
        )
        return Response(DocumentSerializer(self.get_object()).data)

    @extend_schema(
        summary="Delete a document",
        description="Admins only. Deletes it with all its versions; it leaves search at once.",
        responses={204: None},
    )
    def destroy(self, request, kb_id=None, pk=None):
        services.document_delete(document=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        summary="List a document's versions",
        description="Every version of the document, newest first, with its ingestion.",
        responses=DocumentVersionSerializer(many=True),
        filters=False,
    )
    @extend_schema(
        methods=["POST"],
        summary="Upload a new version of a document",
        description="Admins only. Replaces the document's content: paste `content` (JSON) or "
        "upload a `file` (multipart/form-data). The new version is ingested in the "
        "background; once it is `ready` it becomes `current_version` and search no longer "
        "finds the previous version's text (which stays in the history). Content equal to the "
        "latest version's adds nothing (200); otherwise 201. The type is guessed from the "
        "file, else it stays the document's, unless `source_type` says it.",
        request=_VERSION_UPLOAD,
        responses={201: DocumentSerializer, 200: DocumentSerializer},
        filters=False,
        examples=[
            OpenApiExample(
                "Edited text",
                value={"content": "We open at eight and close at six, Monday to Saturday."},
                request_only=True,
                media_type="application/json",
            )
        ],
    )
    @action(detail=True, methods=["get", "post"])
    def versions(self, request, kb_id=None, pk=None):
        document = self.get_object()
        if request.method == "POST":
            data = DocumentContentSerializer(data=request.data, context={"require_content": True})
            data.is_valid(raise_exception=True)
            version = services.document_version_add(
                document=document, author=request_user(request), **data.upload_kwargs()
            )
            return Response(
                DocumentSerializer(self.get_object()).data,
                status=status.HTTP_200_OK if version is None else status.HTTP_201_CREATED,
            )
        versions = selectors.document_version_list(document=document)
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(DocumentVersionSerializer(page, many=True).data)

    @extend_schema(
        summary="Get a document version",
        description="Version `number` with its text (a PDF's: the text extracted from it).",
        parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH)],
        responses=DocumentVersionDetailSerializer,
    )
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>\d+)")
    def version_detail(self, request, kb_id=None, pk=None, number=None):
        version = selectors.document_version_get(document=self.get_object(), number=number)
        return Response(DocumentVersionDetailSerializer(version).data)

    @extend_schema(
        summary="Compare two document versions",
        description="A unified diff of two versions' text.",
        parameters=[
            OpenApiParameter("from", int, description="Default: the version before `to`."),
            OpenApiParameter("to", int, description="Default: the latest version."),
        ],
        responses=VersionDiffSerializer,
    )
    @action(detail=True, methods=["get"], url_path="versions/diff")
    def diff(self, request, kb_id=None, pk=None):
        document = self.get_object()
        query = _DiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        to_number = query.validated_data.get("to")
        if not to_number:
            if document.latest_version is None:
                raise DocumentVersionNotFound()
            to_number = document.latest_version.number
        diff = selectors.document_version_diff(
            document=document,
            from_number=query.validated_data.get("from") or max(to_number - 1, 1),
            to_number=to_number,
        )
        return Response(VersionDiffSerializer(diff).data)

    @extend_schema(
        summary="Roll a document back",
        description="Admins only. Adds a version with the text of an earlier one, ingested "
        "like any new version (history is never rewritten).",
        request=RollbackSerializer,
        responses={201: DocumentSerializer},
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, kb_id=None, pk=None):
        document = self.get_object()
        data = RollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.document_rollback(
            document=document,
            version_number=data.validated_data["version"],
            author=request_user(request),
        )
        return Response(DocumentSerializer(self.get_object()).data, status=status.HTTP_201_CREATED)


class _DiffQuerySerializer(serializers.Serializer):
    to = serializers.IntegerField(min_value=1, required=False)

    def get_fields(self):
        # "from" is a Python keyword, so it cannot be a class attribute.
        return {
            "from": serializers.IntegerField(min_value=1, required=False),
            **super().get_fields(),
        }
