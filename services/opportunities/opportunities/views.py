from rest_framework import exceptions, mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .models import Opportunity
from .serializers import OpportunitySerializer


class OpportunityViewSet(mixins.CreateModelMixin, mixins.ListModelMixin,
                         mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Anyone may browse; publishing takes a JWT, and only the owner may close an opportunity."""

    queryset = Opportunity.objects.all()
    serializer_class = OpportunitySerializer
    lookup_field = "uuid"

    def get_queryset(self):
        status = self.request.query_params.get("status")
        return self.queryset.filter(status=status) if status else self.queryset

    def perform_create(self, serializer):
        serializer.save(owner_uuid=self.request.user.uuid)

    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated])
    def close(self, request, uuid=None):
        opportunity = self.get_object()
        if opportunity.owner_uuid != request.user.uuid:
            raise exceptions.PermissionDenied("Only the owner may close this opportunity.")
        opportunity.status = Opportunity.Status.CLOSED
        opportunity.save(update_fields=["status"])
        return Response(self.get_serializer(opportunity).data)
