from django.urls import include, path

from common.health import health

urlpatterns = [
    path("healthz", health),
    path("api/", include("products.urls")),
]
