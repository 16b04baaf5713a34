from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from knowledge.embeddings import EMBEDDING_MODELS, LOCAL_MINILM
from knowledge.models import Document, DocumentVersion, KnowledgeBase, SourceType
from knowledge.selectors import MAX_TOP_K, SEARCH_MODES
from knowledge.services import IF_EXISTS_CHOICES
from voiceagents.api.input import NUL_MESSAGE, nul_paths
from voiceagents.api.parsers import MAX_JSON_DEPTH, json_depth

# Free text and data sizes (docs/api.md "Limits"); a document's content is bounded by
# knowledge.services.MAX_DOCUMENT_BYTES.
KNOWLEDGE_BASE_NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2_000
TITLE_MAX_LENGTH = 300
METADATA_MAX_LENGTH = 16_384  # characters of the metadata as JSON


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObjectField(serializers.JSONField):
    """A JSON object (checked by the serializer's ``validate_<field>``); in a multipart upload,
    the object as a JSON string. That string is decoded here, past the JSON parser, so the
    rules the parser and the API base apply to a JSON body are applied to it here too: a
    bounded depth and no NUL character."""

    def to_internal_value(self, data: Any) -> Any:
        too_deep = f"Nested more than {MAX_JSON_DEPTH} levels deep."
        try:
            value = super().to_internal_value(data)
        except RecursionError:
            raise serializers.ValidationError(too_deep) from None
        if json_depth(value) > MAX_JSON_DEPTH:
            raise serializers.ValidationError(too_deep)
        if nul_paths(value):
            raise serializers.ValidationError(NUL_MESSAGE)
        return value


class KnowledgeBaseSerializer(serializers.ModelSerializer):
    document_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = KnowledgeBase
        fields = [
            "id",
            "name",
            "description",
            "embedding_model",
            "embedding_dimensions",
            "chunk_size",
            "chunk_overlap",
            "document_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class KnowledgeBaseCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=KNOWLEDGE_BASE_NAME_MAX_LENGTH)
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    embedding_model = serializers.ChoiceField(
        choices=list(EMBEDDING_MODELS), required=False, default=LOCAL_MINILM
    )
    chunk_size = serializers.IntegerField(required=False, default=180)
    chunk_overlap = serializers.IntegerField(required=False, default=30)


class KnowledgeBaseUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=KNOWLEDGE_BASE_NAME_MAX_LENGTH, required=False)
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True
    )


@extend_schema_serializer(
    description="How far a version is on its way to being searchable: it is split into "
    "chunks and each chunk is embedded. `status` is `ready` when search can find it."
)
class IngestionSerializer(serializers.ModelSerializer):
    """How turning a version into searchable chunks went (or is going)."""

    version = serializers.IntegerField(source="number")
    error = serializers.SerializerMethodField()

    class Meta:
        model = DocumentVersion
        fields = [
            "version",
            "status",
            "chunks_done",
            "chunks_total",
            "chunks_embedded",
            "error",
            "ingestion_started_at",
            "ingested_at",
        ]

    def get_error(self, obj: DocumentVersion) -> dict[str, str] | None:
        if not obj.error_code:
            return None
        return {"code": obj.error_code, "message": obj.error_message}


class DocumentSerializer(serializers.ModelSerializer):
    metadata = serializers.DictField(read_only=True)
    current_version = serializers.IntegerField(
        source="current_version.number",
        default=None,
        allow_null=True,
        read_only=True,
        help_text="The version search uses; null until the first version is ready.",
    )
    latest_version = serializers.IntegerField(
        source="latest_version.number",
        default=None,
        allow_null=True,
        read_only=True,
        help_text="The newest version, ready or not.",
    )
    ingestion = IngestionSerializer(
        source="latest_version",
        read_only=True,
        allow_null=True,
        help_text="The latest version's ingestion.",
    )

    class Meta:
        model = Document
        fields = [
            "id",
            "knowledge_base",
            "title",
            "source_type",
            "metadata",
            "current_version",
            "latest_version",
            "ingestion",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    description="A document's text, either pasted as `content` (JSON) or uploaded as `file` "
    "(multipart/form-data), not both."
)
class DocumentContentSerializer(serializers.Serializer):
    """Pasted ``content`` (JSON) or an uploaded ``file`` (multipart), not both."""

    content = serializers.CharField(required=False, trim_whitespace=False)
    file = serializers.FileField(required=False)
    source_type = serializers.ChoiceField(choices=SourceType.choices, required=False)
    encoding = serializers.CharField(max_length=40, required=False)

    def validate(self, attrs: dict) -> dict:
        if "content" in attrs and "file" in attrs:
            raise serializers.ValidationError("Send either content or a file, not both.")
        if self.context.get("require_content") and "content" not in attrs and "file" not in attrs:
            raise serializers.ValidationError({"content": ["Send content or a file."]})
        return attrs

    def upload_kwargs(self) -> dict[str, Any]:
        """The service's content arguments, from either form of upload."""
        data = self.validated_data
        kwargs: dict[str, Any] = {
            "source_type": data.get("source_type"),
            "encoding": data.get("encoding"),
        }
        if "file" in data:
            upload = data["file"]
            kwargs.update(
                content=upload.read(),
                filename=upload.name or "",
                content_type=upload.content_type or "",
            )
        elif "content" in data:
            kwargs["content"] = data["content"]
        return kwargs


@extend_schema_serializer(
    description="A document's text, either pasted as `content` (JSON) or uploaded as `file` "
    "(multipart/form-data), not both. Changing the text adds a version."
)
class DocumentWriteSerializer(DocumentContentSerializer):
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, required=False, allow_blank=True)
    metadata = JSONObjectField(required=False, help_text="Your own key-value data, kept as is.")

    def validate_metadata(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        if len(json.dumps(value)) > METADATA_MAX_LENGTH:
            raise serializers.ValidationError(
                f"At most {METADATA_MAX_LENGTH:,} characters of JSON."
            )
        return value


@extend_schema_serializer(
    description="A new document's text, either pasted as `content` (JSON) or uploaded as "
    "`file` (multipart/form-data), not both. A knowledge base holds one document per name: "
    "`if_exists` says what an upload named like an existing document does."
)
class DocumentCreateSerializer(DocumentWriteSerializer):
    if_exists = serializers.ChoiceField(
        choices=IF_EXISTS_CHOICES,
        required=False,
        default="error",
        help_text="When the knowledge base already has a document of this name (the title, "
        "ignoring case; with no title, also the file name of its latest version): `error` "
        "(409 `document_exists`, naming it) or `new_version` (the upload becomes a new "
        "version of that document).",
    )


class DocumentVersionSerializer(serializers.ModelSerializer):
    author = serializers.EmailField(
        source="author.email", default=None, read_only=True, allow_null=True
    )
    is_current = serializers.SerializerMethodField()
    ingestion = IngestionSerializer(source="*", read_only=True)

    class Meta:
        model = DocumentVersion
        fields = [
            "number",
            "source_type",
            "filename",
            "content_hash",
            "note",
            "author",
            "created_at",
            "is_current",
            "ingestion",
        ]
        read_only_fields = fields

    def get_is_current(self, obj: DocumentVersion) -> bool:
        return obj.pk == obj.document.current_version_id


class DocumentVersionDetailSerializer(DocumentVersionSerializer):
    class Meta(DocumentVersionSerializer.Meta):
        fields = [*DocumentVersionSerializer.Meta.fields, "content"]
        read_only_fields = fields


class RollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class VersionDiffSerializer(serializers.Serializer):
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    diff = serializers.CharField()


class SearchRequestSerializer(serializers.Serializer):
    query = serializers.CharField(max_length=2000)
    top_k = serializers.IntegerField(min_value=1, max_value=MAX_TOP_K, default=5)
    document_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, allow_empty=False
    )
    mode = serializers.ChoiceField(choices=SEARCH_MODES, default="hybrid")


class SearchHitSerializer(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    text = serializers.CharField()
    score = serializers.FloatField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    version = serializers.IntegerField()
    position = serializers.IntegerField()
    similarity = serializers.FloatField(allow_null=True)
    vector_rank = serializers.IntegerField(allow_null=True)
    text_rank = serializers.IntegerField(allow_null=True)
    identifier_match = serializers.BooleanField()
    relevance = serializers.FloatField(
        read_only=True,
        help_text="From 0 to 1, for people: in hybrid mode the share of the best score a chunk "
        "could have had in this search (first in every ranking that found anything), in vector "
        "mode the cosine similarity, in text mode the rank relative to the best hit's.",
    )
