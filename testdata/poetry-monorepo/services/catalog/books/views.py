from rest_framework import mixins, viewsets

from .models import Book
from .serializers import BookSerializer


class BookViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                  viewsets.GenericViewSet):
    """The catalog: list, read by ISBN, add a book."""

    queryset = Book.objects.all()
    serializer_class = BookSerializer
    lookup_field = "isbn"
