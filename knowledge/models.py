"""Knowledge bases (tenant schema): documents, their immutable versions, and searchable chunks."""

from __future__ import annotations

from django.db import models


class KnowledgeBase(models.Model):
    """A searchable collection of documents. The embedding model is fixed at creation: every
    chunk of the base shares one vector space (and one dimension)."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    embedding_model = models.CharField(max_length=100, default="local/all-MiniLM-L6-v2")
    embedding_dimensions = models.PositiveIntegerField(default=384)
    chunk_size = models.PositiveIntegerField(default=180, help_text="Tokens per chunk.")
    chunk_overlap = models.PositiveIntegerField(default=30, help_text="Tokens of overlap.")
    created_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
