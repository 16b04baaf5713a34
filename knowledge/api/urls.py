from rest_framework.routers import SimpleRouter

from knowledge.api import views

router = SimpleRouter()
router.register("knowledge-bases", views.KnowledgeBaseViewSet, basename="knowledge-base")
router.register(
    r"knowledge-bases/(?P<kb_id>\d+)/documents", views.DocumentViewSet, basename="kb-document"
)

urlpatterns = router.urls
