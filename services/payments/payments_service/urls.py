from django.urls import include, path

from convoykit.health import healthz

urlpatterns = [
    path("healthz", healthz),
    path("api/", include("payments.urls")),
]
