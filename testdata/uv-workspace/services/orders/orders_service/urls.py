from django.urls import include, path

from shopkit.health import healthz

urlpatterns = [
    path("healthz", healthz),
    path("api/", include("orders.urls")),
]
