import datetime

from django.conf import settings
from rest_framework import generics, mixins, permissions, viewsets
from rest_framework.response import Response

from convoykit import tokens

from .models import User
from .serializers import CredentialsSerializer, UserSerializer


class UserViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Anyone may sign up; reading a user by UUID takes a JWT (from any service's user)."""

    queryset = User.objects.filter(is_active=True)
    serializer_class = UserSerializer
    lookup_field = "uuid"

    def get_permissions(self):
        if self.action == "create":
            return [permissions.AllowAny()]
        return super().get_permissions()


class TokenView(generics.GenericAPIView):
    """Trade a username and password for a JWT whose subject is the user's UUID."""

    serializer_class = CredentialsSerializer
    permission_classes = [permissions.AllowAny]

    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        lifetime = datetime.timedelta(seconds=settings.JWT_LIFETIME_SECONDS)
        token = tokens.encode(user.uuid, lifetime=lifetime, username=user.username)
        return Response({"token": token, "uuid": str(user.uuid)})
