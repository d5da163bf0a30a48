import datetime
import uuid

import jwt
import pytest

from convoykit import tokens

USER = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
SECRET = "a-test-secret-that-is-long-enough-for-hs256"


@pytest.fixture(autouse=True)
def jwt_secret(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", SECRET)


def test_round_trip_carries_the_user_uuid_and_extra_claims():
    claims = tokens.decode(tokens.encode(USER, username="alice"))
    assert claims["sub"] == USER
    assert claims["username"] == "alice"


def test_token_is_plain_hs256_with_the_shared_key():
    token = tokens.encode(str(USER))
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["sub"] == str(USER)


def test_token_signed_with_another_key_is_rejected():
    token = tokens.encode(USER, secret="another-secret-that-is-long-enough-for-hs256")
    with pytest.raises(tokens.TokenError):
        tokens.decode(token)


def test_expired_token_is_rejected():
    token = tokens.encode(USER, lifetime=datetime.timedelta(seconds=-1))
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.decode(token)


@pytest.mark.parametrize("payload", [{"exp": 4102444800}, {"sub": "nope", "exp": 4102444800}])
def test_token_without_a_uuid_subject_is_rejected(payload):
    with pytest.raises(tokens.TokenError):
        tokens.decode(jwt.encode(payload, SECRET, algorithm="HS256"))


def test_missing_secret_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("JWT_SECRET")
    with pytest.raises(RuntimeError, match="JWT_SECRET"):
        tokens.encode(USER)
