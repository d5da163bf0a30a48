from django.urls import include, path

from common.health import health

urlpatterns = [
    path("health/", health),
    path("api/", include("orders.urls")),
]
