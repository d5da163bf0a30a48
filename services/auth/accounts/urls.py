from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import TokenView, UserViewSet

router = SimpleRouter()
router.register("users", UserViewSet)

urlpatterns = [path("token/", TokenView.as_view(), name="token"), *router.urls]
