import uuid

import pytest
from rest_framework import exceptions
from rest_framework.test import APIRequestFactory

from convoykit import tokens
from convoykit.authentication import JWTAuthentication, TokenUser

USER = uuid.UUID("b0b00000-0000-4000-8000-000000000002")


@pytest.fixture(autouse=True)
def jwt_secret(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "a-test-secret-that-is-long-enough-for-hs256")


def authenticate(header=None):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    return JWTAuthentication().authenticate(APIRequestFactory().get("/", **extra))


def test_bearer_token_yields_a_user_carrying_the_uuid():
    user, claims = authenticate(f"Bearer {tokens.encode(USER)}")
    assert isinstance(user, TokenUser)
    assert user.uuid == USER
    assert user.is_authenticated and not user.is_anonymous
    assert claims["sub"] == USER


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz"])
def test_requests_without_a_bearer_token_stay_anonymous(header):
    assert authenticate(header) is None


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not.a.token"])
def test_malformed_tokens_are_refused(header):
    with pytest.raises(exceptions.AuthenticationFailed):
        authenticate(header)


def test_unauthenticated_answer_is_401_with_a_bearer_challenge():
    assert JWTAuthentication().authenticate_header(None).startswith("Bearer")
