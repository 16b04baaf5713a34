"""Pages of the organizations app on the main host (voiceagents.urls_public)."""

from django.urls import path

from organizations import views

urlpatterns = [
    path("invitations/accept/", views.invitation_accept, name="invitation-page"),
]
