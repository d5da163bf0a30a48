from decimal import Decimal

from rest_framework import exceptions, mixins, viewsets

from . import events_client
from .models import Payment
from .serializers import PaymentSerializer


class EventsServiceUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "The events service is unavailable; try again later."
    default_code = "events_unavailable"


class PaymentViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     viewsets.GenericViewSet):
    """A user's own payments. Paying checks with the events service that the event exists and
    charges its price."""

    serializer_class = PaymentSerializer
    lookup_field = "uuid"

    def get_queryset(self):
        return Payment.objects.filter(user_uuid=self.request.user.uuid)

    def perform_create(self, serializer):
        event_uuid = serializer.validated_data["event_uuid"]
        try:
            event = events_client.get_event(event_uuid)
        except events_client.EventsUnavailable as exc:
            raise EventsServiceUnavailable() from exc
        if event is None:
            raise exceptions.ValidationError({"event": [f"Event {event_uuid} does not exist."]})
        serializer.save(user_uuid=self.request.user.uuid, amount=Decimal(event["price"]),
                        currency=event["currency"])
