from django.urls import include, path

from {{.Module}}.views import healthz

urlpatterns = [
    path("healthz", healthz),
    path("api/", include("{{.Module}}.urls")),
]
