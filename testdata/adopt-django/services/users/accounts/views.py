from rest_framework import viewsets

from accounts.models import Account
from accounts.serializers import AccountSerializer


class AccountViewSet(viewsets.ModelViewSet):
    queryset = Account.objects.order_by("id")
    serializer_class = AccountSerializer
    lookup_field = "uuid"
