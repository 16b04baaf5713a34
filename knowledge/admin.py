"""Knowledge bases in an organization's admin: create bases, upload several documents at once
or paste text, upload a new version of a document, follow their ingestion, read a document's
content and chunks, browse version history with diffs, roll back, and try searches in a
playground that shows each passage's relevance and what matched. Every write goes through
knowledge.services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from unfold.admin import ModelAdmin

from knowledge import selectors, services
from knowledge.exceptions import DocumentAlreadyExists
from knowledge.forms import (
    DocumentAdminForm,
    DocumentPasteForm,
    DocumentUploadForm,
    DocumentVersionForm,
    KnowledgeBaseAdminForm,
    SearchPlaygroundForm,
)
from knowledge.models import Document, IngestionStatus, KnowledgeBase
from organizations.actors import request_user
from organizations.admin_mixins import RoleAdminMixin
from voiceagents.exceptions import ApplicationError

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

_IN_PROGRESS = (IngestionStatus.PENDING, IngestionStatus.PROCESSING)
CHUNKS_PER_PAGE = 20


@dataclass(frozen=True)
class _Conflict:
    """An upload refused because the knowledge base has a document of that name."""

    name: str  # the file's name or the pasted title
    document: Document


@dataclass(frozen=True)
class _HitRow:
    """A search hit as the playground shows it."""

    hit: selectors.SearchHit
    percent: int  # relevance, 0 to 100
    meaning_percent: int | None  # cosine similarity, 0 to 100


def _percent(value: float | None) -> int | None:
    return None if value is None else round(max(0.0, min(1.0, value)) * 100)


def _conflict(exc: DocumentAlreadyExists, name: str) -> _Conflict:
    document = (
        Document.objects.select_related("current_version")
        .filter(pk=exc.details["document_id"])
        .first()
    )
    if document is None:  # deleted since: still name it (its link then says it is gone)
        document = Document(pk=exc.details["document_id"], title=exc.details["document_title"])
    return _Conflict(name=name, document=document)


class _DocumentCount(TypedDict):
    """What KnowledgeBaseAdmin.get_queryset annotates."""

    document_count: int


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(RoleAdminMixin, ModelAdmin):
    form = KnowledgeBaseAdminForm
    list_display = ["name", "embedding_model", "document_count", "created_at", "tools"]
    search_fields = ["name", "description"]
    readonly_fields = ["embedding_dimensions", "created_by", "created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(document_count=Count("documents"))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return ["embedding_model", "chunk_size", "chunk_overlap", *self.readonly_fields]

    @admin.display(description="Documents", ordering="document_count")
    def document_count(self, obj: WithAnnotations[KnowledgeBase, _DocumentCount]) -> int:
        return obj.document_count

    @admin.display(description="")
    def tools(self, obj: KnowledgeBase) -> str:
        return format_html(
            '<a href="{}">Search</a> · <a href="{}">Upload</a>',
            reverse("admin:knowledge_knowledgebase_search", args=[obj.pk]),
            reverse("admin:knowledge_document_upload") + f"?knowledge_base={obj.pk}",
        )

    def save_model(self, request, obj, form, change):
        if change:
            services.knowledge_base_update(
                knowledge_base=obj,
                data={field: form.cleaned_data[field] for field in ("name", "description")},
            )
            return
        created = services.knowledge_base_create(
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            embedding_model=form.cleaned_data["embedding_model"],
            chunk_size=form.cleaned_data["chunk_size"],
            chunk_overlap=form.cleaned_data["chunk_overlap"],
            created_by=request_user(request),
        )
        obj.pk = created.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.knowledge_base_delete(knowledge_base=obj)

    def delete_queryset(self, request, queryset):
        for knowledge_base in queryset:
            services.knowledge_base_delete(knowledge_base=knowledge_base)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/search/",
                self.admin_site.admin_view(self.search_view),
                name="knowledge_knowledgebase_search",
            ),
            *super().get_urls(),
        ]

    def search_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The playground: the ranked chunks of a query with every score that made the rank."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        knowledge_base = get_object_or_404(KnowledgeBase, pk=object_id)
        form = SearchPlaygroundForm(request.GET if "query" in request.GET else None)
        rows = None
        query, mode = "", "hybrid"
        if form.is_bound and form.is_valid():
            query, mode = form.cleaned_data["query"], form.cleaned_data["mode"]
            try:
                hits = selectors.search(knowledge_base_id=knowledge_base.pk, **form.cleaned_data)
            except ApplicationError as exc:
                self.message_user(request, exc.message, level=messages.ERROR)
            else:
                relevance = selectors.search_relevance(hits, query=query, mode=mode)
                rows = [
                    _HitRow(
                        hit=hit,
                        percent=_percent(value) or 0,
                        meaning_percent=_percent(hit.similarity),
                    )
                    for hit, value in zip(hits, relevance, strict=True)
                ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Search playground: {knowledge_base}",
            "opts": self.model._meta,
            "original": knowledge_base,
            "form": form,
            "rows": rows,
            "mode": mode,
            "identifiers": selectors.query_identifiers(query),
        }
        return TemplateResponse(request, "admin/knowledge/knowledgebase/search.html", context)


@admin.register(Document)
class DocumentAdmin(RoleAdminMixin, ModelAdmin):
    form = DocumentAdminForm
    list_display = [
        "title",
        "knowledge_base",
        "source_type",
        "current_version_number",
        "ingestion",
        "updated_at",
    ]
    list_filter = ["knowledge_base", "source_type", "latest_version__status"]
    list_select_related = ["knowledge_base", "current_version", "latest_version"]
    search_fields = ["title"]
    fields = [
        "title",
        "metadata",
        "knowledge_base",
        "source_type",
        "current_version_number",
        "ingestion",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "knowledge_base",
        "source_type",
        "current_version_number",
        "ingestion",
        "created_by",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Searchable version")
    def current_version_number(self, obj: Document) -> int | None:
        return obj.current_version.number if obj.current_version else None

    @admin.display(description="Ingestion")
    def ingestion(self, obj: Document) -> str:
        version = obj.latest_version
        if version is None:
            return "-"
        text = f"v{version.number}: {version.get_status_display()}"
        if version.status in _IN_PROGRESS or version.status == IngestionStatus.READY:
            text += f" ({version.chunks_done}/{version.chunks_total} chunks)"
        if version.status == IngestionStatus.FAILED:
            text += f": {version.error_message}"
        return text

    def has_add_permission(self, request, *args) -> bool:
        return False  # documents are added by upload (several at once), see upload_view

    def save_model(self, request, obj, form, change):
        services.document_update(
            document=obj,
            title=form.cleaned_data["title"],
            metadata=form.cleaned_data["metadata"],
            author=request_user(request),
        )

    def delete_model(self, request, obj):
        services.document_delete(document=obj)

    def delete_queryset(self, request, queryset):
        for document in queryset:
            services.document_delete(document=document)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_upload": self._can_change(request)}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The document page: its fields, then its content, the chunks search reads (paged)
        and its version history."""
        document = get_object_or_404(
            Document.objects.select_related("knowledge_base", "current_version", "latest_version"),
            pk=object_id,
        )
        versions = list(selectors.document_version_list(document=document))
        chunks = Paginator(selectors.document_chunk_list(document=document), CHUNKS_PER_PAGE)
        extra_context = {
            **(extra_context or {}),
            "versions": versions,
            "current_version_id": document.current_version_id,
            # The searchable version's text; before any is ready, the newest one's.
            "shown_version": document.current_version or document.latest_version,
            "chunks": chunks.get_page(request.GET.get("chunks")),
            "can_change": self._can_change(request),
            # Reload the page while an ingestion runs, so its progress moves on its own.
            "refresh_seconds": 3 if any(v.status in _IN_PROGRESS for v in versions) else None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="knowledge_document_upload"),
            path("paste/", view(self.paste_view), name="knowledge_document_paste"),
            path(
                "<int:object_id>/new-version/",
                view(self.new_version_view),
                name="knowledge_document_new_version",
            ),
            path("<int:object_id>/diff/", view(self.diff_view), name="knowledge_document_diff"),
            path(
                "<int:object_id>/rollback/<int:number>/",
                view(require_POST(self.rollback_view)),
                name="knowledge_document_rollback",
            ),
            path(
                "<int:object_id>/reingest/<int:number>/",
                view(require_POST(self.reingest_view)),
                name="knowledge_document_reingest",
            ),
            *super().get_urls(),
        ]

    def _can_change(self, request) -> bool:
        return self.has_change_permission(request)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload several files at once; each becomes a document, each bad file is reported
        with its reason without stopping the others."""
        if not self._can_change(request):
            raise PermissionDenied
        conflicts: list[_Conflict] = []
        if request.method == "POST":
            form = DocumentUploadForm(request.POST, request.FILES)
            if form.is_valid():
                knowledge_base = form.cleaned_data["knowledge_base"]
                added = 0
                for upload in form.cleaned_data["files"]:
                    try:
                        services.document_add(
                            knowledge_base=knowledge_base,
                            content=upload.read(),
                            filename=upload.name,
                            content_type=upload.content_type or "",
                            encoding=form.cleaned_data["encoding"] or None,
                            author=request_user(request),
                            if_exists="new_version"
                            if form.cleaned_data["new_versions"]
                            else "error",
                        )
                        added += 1
                    except DocumentAlreadyExists as exc:
                        conflicts.append(_conflict(exc, upload.name))
                    except ApplicationError as exc:
                        self.message_user(
                            request, f"{upload.name}: {exc.message}", level=messages.ERROR
                        )
                if added:
                    self.message_user(
                        request,
                        f"{added} document(s) added or updated; ingestion runs in the background.",
                    )
                if not conflicts:
                    changelist = reverse("admin:knowledge_document_changelist")
                    return HttpResponseRedirect(
                        f"{changelist}?knowledge_base__id__exact={knowledge_base.pk}"
                    )
                # Ask: the page again, each refused file with a way to make it a new version.
                form = DocumentUploadForm(
                    initial={"knowledge_base": knowledge_base.pk, "new_versions": True}
                )
        else:
            form = DocumentUploadForm(initial={"knowledge_base": request.GET.get("knowledge_base")})
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload documents",
            "opts": self.model._meta,
            "form": form,
            "conflicts": conflicts,
            "can_change": True,
            "knowledge_base_id": request.GET.get("knowledge_base", ""),
        }
        return TemplateResponse(request, "admin/knowledge/document/upload.html", context)

    def paste_view(self, request: HttpRequest) -> HttpResponse:
        """A document from pasted text."""
        if not self._can_change(request):
            raise PermissionDenied
        conflicts: list[_Conflict] = []
        if request.method == "POST":
            form = DocumentPasteForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    document = services.document_add(
                        knowledge_base=data["knowledge_base"],
                        title=data["title"],
                        content=data["content"],
                        source_type=data["source_type"],
                        author=request_user(request),
                        if_exists="new_version" if data["new_version"] else "error",
                    )
                except DocumentAlreadyExists as exc:
                    conflicts.append(_conflict(exc, data["title"]))
                    form.add_error("new_version", "Tick to make the text a new version of it.")
                except ApplicationError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(
                        request, f"{document.title}: saved; ingestion runs in the background."
                    )
                    return HttpResponseRedirect(
                        reverse("admin:knowledge_document_change", args=[document.pk])
                    )
        else:
            form = DocumentPasteForm(initial={"knowledge_base": request.GET.get("knowledge_base")})
        context = {
            **self.admin_site.each_context(request),
            "title": "Paste text",
            "opts": self.model._meta,
            "form": form,
            "conflicts": conflicts,
            "can_change": True,
        }
        return TemplateResponse(request, "admin/knowledge/document/paste.html", context)

    def new_version_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Upload a file (or paste text) as the document's next version."""
        if not self._can_change(request):
            raise PermissionDenied
        document = get_object_or_404(
            Document.objects.select_related("knowledge_base", "current_version", "latest_version"),
            pk=object_id,
        )
        if request.method == "POST":
            form = DocumentVersionForm(request.POST, request.FILES)
            if form.is_valid() and self._version_add(request, document, form):
                return HttpResponseRedirect(
                    reverse("admin:knowledge_document_change", args=[document.pk])
                )
        else:
            form = DocumentVersionForm()
        latest = document.latest_version
        context = {
            **self.admin_site.each_context(request),
            "title": f"New version of {document}",
            "opts": self.model._meta,
            "original": document,
            "form": form,
            "next_number": (latest.number if latest else 0) + 1,
        }
        return TemplateResponse(request, "admin/knowledge/document/new_version.html", context)

    def _version_add(
        self, request: HttpRequest, document: Document, form: DocumentVersionForm
    ) -> bool:
        """Add the form's upload as a new version and say so; False, with the reason on the
        form, when it was refused."""
        data = form.cleaned_data
        upload = data.get("file")
        try:
            if upload:
                version = services.document_version_add(
                    document=document,
                    content=upload.read(),
                    filename=upload.name,
                    content_type=upload.content_type or "",
                    encoding=data["encoding"] or None,
                    author=request_user(request),
                )
            else:
                version = services.document_version_add(
                    document=document, content=data["content"], author=request_user(request)
                )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return False
        if version is None:
            self.message_user(
                request,
                "The upload is identical to the latest version: no new version was made.",
                level=messages.WARNING,
            )
        else:
            self.message_user(
                request,
                f"Version {version.number} uploaded: once ingested, search finds only its text.",
            )
        return True

    def diff_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        document = get_object_or_404(Document, pk=object_id)
        latest = document.latest_version.number if document.latest_version else 1
        try:
            diff = selectors.document_version_diff(
                document=document,
                from_number=request.GET.get("from", max(latest - 1, 1)),
                to_number=request.GET.get("to", latest),
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:knowledge_document_change", args=[document.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{document}: version {diff.from_version} → {diff.to_version}",
            "opts": self.model._meta,
            "original": document,
            "diff": diff,
        }
        return TemplateResponse(request, "admin/knowledge/document/diff.html", context)

    def rollback_view(self, request: HttpRequest, object_id: int, number: int) -> HttpResponse:
        if not self._can_change(request):
            raise PermissionDenied
        document = get_object_or_404(Document, pk=object_id)
        try:
            version = services.document_rollback(
                document=document, version_number=number, author=request_user(request)
            )
            self.message_user(request, f"Version {version.number} restores version {number}.")
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
        return HttpResponseRedirect(reverse("admin:knowledge_document_change", args=[object_id]))

    def reingest_view(self, request: HttpRequest, object_id: int, number: int) -> HttpResponse:
        if not self._can_change(request):
            raise PermissionDenied
        document = get_object_or_404(Document, pk=object_id)
        try:
            version = selectors.document_version_get(document=document, number=number)
            services.document_version_reingest(version=version)
            self.message_user(request, f"Version {number} is being ingested again.")
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
        return HttpResponseRedirect(reverse("admin:knowledge_document_change", args=[object_id]))
