from rest_framework import mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .models import Attendee, Event
from .serializers import EventSerializer


class EventViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                   viewsets.GenericViewSet):
    """Anyone may read events; creating or attending one takes a JWT (its user is the organizer)."""

    queryset = Event.objects.prefetch_related("attendees")
    serializer_class = EventSerializer
    lookup_field = "uuid"

    def perform_create(self, serializer):
        serializer.save(organizer_uuid=self.request.user.uuid)

    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated])
    def attend(self, request, uuid=None):
        event = self.get_object()
        Attendee.objects.get_or_create(event=event, user_uuid=request.user.uuid)
        return Response(self.get_serializer(event).data)
