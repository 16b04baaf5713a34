"""Admin forms: a routing rule (validated by the same service as the API) and the "test a
route" form."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from agents.models import Agent
from calls import services
from calls.models import PhoneNumber, RoutingRule
from calls.numbers import e164
from voiceagents.exceptions import ApplicationError

DAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


def _form_errors(form: forms.BaseForm, exc: ApplicationError) -> None:
    fields = exc.details.get("fields") or {}
    if not fields:
        form.add_error(None, exc.message)
    for name, messages in fields.items():
        field_name = name.rsplit(".", 1)[-1]
        target = field_name if field_name in form.fields else None
        for message in messages:
            form.add_error(target, message)


class RoutingRuleForm(forms.ModelForm):
    days_of_week = forms.TypedMultipleChoiceField(
        choices=DAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked = every day.",
    )

    class Meta:
        model = RoutingRule
        fields = [
            "position",
            "name",
            "caller_prefix",
            "caller_country",
            "days_of_week",
            "start_time",
            "end_time",
            "agent",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # cast: the form field of a ForeignKey is a ModelChoiceField.
        agent_field = cast("forms.ModelChoiceField[Agent]", self.fields["agent"])
        agent_field.queryset = Agent.objects.alive()

    def rule_data(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data.get(name)
            for name in (
                "name",
                "caller_prefix",
                "caller_country",
                "days_of_week",
                "start_time",
                "end_time",
                "is_active",
            )
        }
        agent = self.cleaned_data.get("agent")
        data["agent_id"] = agent.pk if agent else None
        return data

    def clean(self) -> dict[str, Any]:
        super().clean()  # a ModelForm's returns self.cleaned_data
        cleaned = self.cleaned_data
        if not self.errors and not cleaned.get("DELETE"):
            try:
                services.routing_rule_clean(data=self.rule_data())
            except ApplicationError as exc:
                _form_errors(self, exc)
        return cleaned


class TestRouteForm(forms.Form):
    to_number = forms.ModelChoiceField(
        queryset=PhoneNumber.objects.all(), to_field_name="number", label="Our number"
    )
    from_number = forms.CharField(label="Caller", help_text="E.164, e.g. +14155550199.")
    at = forms.DateTimeField(
        required=False, label="At", help_text="Empty = now (UTC, e.g. 2025-03-10 13:30)."
    )

    def clean_from_number(self) -> str:
        try:
            return e164(self.cleaned_data["from_number"], field="from_number")
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
