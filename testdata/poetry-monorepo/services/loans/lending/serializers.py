from rest_framework import serializers
from rest_framework.exceptions import APIException

from . import catalog
from .models import Loan


class CatalogDown(APIException):
    status_code = 503
    default_detail = "the catalog service is unavailable"


class LoanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Loan
        fields = ["id", "isbn", "member", "due"]
        read_only_fields = ["id"]

    def validate_isbn(self, isbn):
        try:
            held = catalog.book(isbn)
        except catalog.CatalogUnavailable as exc:
            raise CatalogDown(str(exc)) from exc
        if held is None:
            raise serializers.ValidationError(f"{isbn} is not in the catalog")
        return isbn
