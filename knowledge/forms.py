"""Forms of the knowledge admin. They validate input only; writes go through services."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from knowledge import services
from knowledge.embeddings import EMBEDDING_MODELS, embedding_model_available
from knowledge.models import KnowledgeBase
from knowledge.selectors import MAX_TOP_K, SEARCH_MODES


class KnowledgeBaseAdminForm(forms.ModelForm):
    embedding_model = forms.ChoiceField(
        choices=(), help_text="Fixed once the knowledge base exists."
    )

    class Meta:
        model = KnowledgeBase
        fields = ["name", "description", "embedding_model", "chunk_size", "chunk_overlap"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "embedding_model" not in self.fields:
            return  # read-only on an existing base
        # Only models usable here: a hosted model without its key would fail every ingestion.
        # Declared above as a ChoiceField; ``fields`` is typed with the Field base class.
        embedding_model = cast(forms.ChoiceField, self.fields["embedding_model"])
        embedding_model.choices = [
            (name, f"{name} ({dimensions} dimensions)")
            for name, dimensions in EMBEDDING_MODELS.items()
            if embedding_model_available(name)
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns; typed here without the None
        if self.instance.pk is None and not self.errors:
            errors = services.knowledge_base_settings_errors(
                name=data["name"],
                embedding_model=data["embedding_model"],
                chunk_size=data["chunk_size"],
                chunk_overlap=data["chunk_overlap"],
            )
            for field, messages in errors.items():
                self.add_error(field, messages)
        return data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one <input multiple> (the pattern of Django's documentation)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)]


class DocumentUploadForm(forms.Form):
    knowledge_base = forms.ModelChoiceField(queryset=KnowledgeBase.objects.all())
    # The form metaclass moves declared fields into base_fields, so ``form.files`` stays the
    # uploaded files; the stubs see a class attribute replacing BaseForm.files.
    files = MultipleFileField(  # type: ignore[assignment]
        help_text="Text, Markdown, HTML, PDF, or a CSV of question,answer rows. "
        "Each file becomes one document, titled after its name."
    )
    encoding = forms.CharField(
        required=False,
        max_length=40,
        help_text="Only for text files that are not UTF-8, e.g. latin-1 or cp1252.",
    )


class SearchPlaygroundForm(forms.Form):
    query = forms.CharField(max_length=2000, widget=forms.TextInput(attrs={"size": 80}))
    top_k = forms.IntegerField(min_value=1, max_value=MAX_TOP_K, initial=10)
    mode = forms.ChoiceField(choices=[(mode, mode) for mode in SEARCH_MODES], initial="hybrid")
