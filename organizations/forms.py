"""Forms of the organizations' pages: accepting an invitation."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate, password_validation
from django.http import HttpRequest

from organizations.models import User


class InvitationSignInForm(forms.Form):
    """An existing account accepts: its password proves who is accepting."""

    password = forms.CharField(strip=False, widget=forms.PasswordInput)

    def __init__(self, *args: Any, request: HttpRequest, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.email = email
        self.user: User | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            user = authenticate(self.request, username=self.email, password=password)
            if not isinstance(user, User):
                raise forms.ValidationError(f"That is not the password of {self.email}.")
            self.user = user
        return cleaned


class InvitationSignUpForm(forms.Form):
    """A new person: their account for the invited address."""

    full_name = forms.CharField(max_length=200, required=False, label="Your name")
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label="Password again", strip=False, widget=forms.PasswordInput)

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password, again = cleaned.get("password1"), cleaned.get("password2")
        if password and again and password != again:
            self.add_error("password2", "The two passwords differ.")
        elif password:
            candidate = User(email=self.email, full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned
