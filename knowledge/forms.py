"""Forms of the knowledge admin. They validate input only; writes go through services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanWidget,
)

from knowledge import selectors, services
from knowledge.embeddings import EMBEDDING_MODELS, embedding_model_available
from knowledge.models import Document, KnowledgeBase, SourceType
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


class DocumentAdminForm(forms.ModelForm):
    """A document's title and metadata (its content changes by new versions)."""

    class Meta:
        model = Document
        fields = ["title", "metadata"]

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        other = selectors.document_same_name(
            knowledge_base=self.instance.knowledge_base, title=title
        )
        if other is not None and other.pk != self.instance.pk:
            raise forms.ValidationError(
                f'Another document of this knowledge base is named "{other.title}": choose '
                "another title."
            )
        return title


class MultipleFileInput(UnfoldAdminFileFieldWidget):
    """The theme's file input (its script shows the chosen file's name), taking several."""

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
    knowledge_base = forms.ModelChoiceField(
        queryset=KnowledgeBase.objects.all(), widget=UnfoldAdminSelectWidget
    )
    # The form metaclass moves declared fields into base_fields, so ``form.files`` stays the
    # uploaded files; the stubs see a class attribute replacing BaseForm.files.
    files = MultipleFileField(  # type: ignore[assignment]
        help_text="Text, Markdown, HTML, PDF, or a CSV of question,answer rows. "
        "Each file becomes one document, titled after its name."
    )
    encoding = forms.CharField(
        required=False,
        max_length=40,
        widget=UnfoldAdminTextInputWidget,
        help_text="Only for text files that are not UTF-8, e.g. latin-1 or cp1252.",
    )
    new_versions = forms.BooleanField(
        required=False,
        widget=UnfoldBooleanWidget,
        label="Replace documents of the same name",
        help_text="A file named like a document of the knowledge base becomes a new version "
        "of that document. Unticked, such a file is not uploaded and you are asked.",
    )


# Types of pasted text (a PDF or CSV is a file: upload it instead).
_PASTE_TYPES = [
    (value, label) for value, label in SourceType.choices if value in ("text", "markdown", "html")
]


class DocumentPasteForm(forms.Form):
    """A document from pasted text."""

    knowledge_base = forms.ModelChoiceField(
        queryset=KnowledgeBase.objects.all(), widget=UnfoldAdminSelectWidget
    )
    title = forms.CharField(max_length=300, widget=UnfoldAdminTextInputWidget)
    content = forms.CharField(
        label="Text",
        strip=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 16}),
        max_length=services.MAX_DOCUMENT_BYTES,
    )
    source_type = forms.ChoiceField(
        label="Format", choices=_PASTE_TYPES, initial="text", widget=UnfoldAdminSelectWidget
    )
    new_version = forms.BooleanField(
        required=False,
        widget=UnfoldBooleanWidget,
        label="Replace a document of the same title",
        help_text="When the knowledge base has a document of this title, the text becomes a "
        "new version of it.",
    )


class DocumentVersionForm(forms.Form):
    """A new version of a document: a file, or pasted text."""

    file = forms.FileField(
        required=False,
        widget=UnfoldAdminFileFieldWidget,
        help_text="Text, Markdown, HTML, PDF, or a CSV of question,answer rows.",
    )
    content = forms.CharField(
        label="Or paste the new text",
        required=False,
        strip=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 8}),
        max_length=services.MAX_DOCUMENT_BYTES,
    )
    encoding = forms.CharField(
        required=False,
        max_length=40,
        widget=UnfoldAdminTextInputWidget,
        help_text="Only for text files that are not UTF-8, e.g. latin-1 or cp1252.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("file") and data.get("content"):
            raise forms.ValidationError("Upload a file or paste text, not both.")
        if not data.get("file") and not data.get("content"):
            raise forms.ValidationError("Upload a file or paste the new text.")
        return data


_MODE_LABELS = {
    "hybrid": "Meaning and keywords",
    "vector": "Meaning only",
    "text": "Keywords only",
}


class SearchPlaygroundForm(forms.Form):
    query = forms.CharField(
        label="Question",
        max_length=2000,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "What would a caller ask?"}),
    )
    mode = forms.ChoiceField(
        label="Match by",
        choices=[(mode, _MODE_LABELS[mode]) for mode in SEARCH_MODES],
        initial="hybrid",
        widget=UnfoldAdminSelectWidget,
    )
    top_k = forms.IntegerField(
        label="Results",
        min_value=1,
        max_value=MAX_TOP_K,
        initial=10,
        widget=UnfoldAdminIntegerFieldWidget,
    )
