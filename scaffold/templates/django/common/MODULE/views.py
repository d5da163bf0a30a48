from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_safe
from rest_framework import generics

from .models import Item
from .serializers import ItemSerializer


@require_safe
def healthz(request):
    """Answer 200 ``{"status": "ok"}`` when the database answers ``SELECT 1``, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return JsonResponse({"status": "unavailable", "error": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok"})


class ItemList(generics.ListCreateAPIView):
    queryset = Item.objects.all()
    serializer_class = ItemSerializer


class ItemDetail(generics.RetrieveAPIView):
    queryset = Item.objects.all()
    serializer_class = ItemSerializer
    lookup_field = "uuid"
