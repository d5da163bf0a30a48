from django.urls import include, path

from servicekit.health import healthz

urlpatterns = [
    path("healthz", healthz),
    path("api/", include("books.urls")),
]
