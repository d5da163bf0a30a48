from rest_framework.routers import SimpleRouter

from .views import LoanViewSet

router = SimpleRouter()
router.register("loans", LoanViewSet, basename="loan")

urlpatterns = router.urls
