from rest_framework import mixins, viewsets

from .models import Loan
from .serializers import LoanSerializer


class LoanViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                  viewsets.GenericViewSet):
    """Loans: list (``?isbn=`` for one book's), read, lend a catalog book."""

    serializer_class = LoanSerializer

    def get_queryset(self):
        loans = Loan.objects.all()
        if isbn := self.request.query_params.get("isbn"):
            loans = loans.filter(isbn=isbn)
        return loans
