"""Who is calling, and may they: Cloudflare's auth checks and the errors it answers them with."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Mapping

from .envelope import ApiError
from .state import Credential, State

TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{40}$")
GLOBAL_KEY_SHAPE = re.compile(r"^[0-9a-f]{37}$")
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+$")

WRITE_PERMISSIONS = frozenset({"Magic WAN Write", "Magic Transit Write"})
READ_PERMISSIONS = WRITE_PERMISSIONS | frozenset({"Magic WAN Read", "Magic Transit Read"})


@dataclass(frozen=True)
class AuthOutcome:
    credential: Credential | None
    error: ApiError | None

    @property
    def rate_limit_key(self) -> str | None:
        return f"{self.credential.kind}:{self.credential.id}" if self.credential else None


def _invalid_headers(code: int, message: str) -> ApiError:
    return ApiError.single(400, 6003, "Invalid request headers", chain=[{"code": code, "message": message}])


def _authentication_error(status: int) -> ApiError:
    return ApiError.single(status, 10000, "Authentication error")


def authenticate(headers: Mapping[str, str], state: State) -> AuthOutcome:
    """Identify the caller; an ``Authorization`` header wins over ``X-Auth-Email``/``X-Auth-Key``."""
    try:
        return AuthOutcome(_identify(headers, state), None)
    except ApiError as failure:
        return AuthOutcome(None, failure)


def _identify(headers: Mapping[str, str], state: State) -> Credential:
    authorization = headers.get("authorization")
    email = headers.get("x-auth-email")
    key = headers.get("x-auth-key")
    if authorization is not None:
        scheme, _unused, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token or token != token.strip():
            raise _invalid_headers(6111, "Invalid format for Authorization header")
        if not TOKEN_SHAPE.match(token):
            raise ApiError.single(400, 9109, "Invalid access token")
        credential = _lookup_token(token, state)
        if credential is None or not credential.active:
            raise _authentication_error(401)
        return credential
    if email is None and key is None:
        raise ApiError.single(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
    if email is None or not EMAIL_SHAPE.match(email):
        raise _invalid_headers(6102, "Invalid format for X-Auth-Email header")
    if key is None or not GLOBAL_KEY_SHAPE.match(key):
        raise _invalid_headers(6103, "Invalid format for X-Auth-Key header")
    known = state.users.get(email.strip().lower())
    if known is None or not hmac.compare_digest(known[0].encode(), key.encode()) or not known[1].active:
        raise _authentication_error(401)
    return known[1]


def _lookup_token(token: str, state: State) -> Credential | None:
    return state.tokens.get(token)


def authorize(credential: Credential, account_id: str, write: bool) -> None:
    """403 unless the credential covers the account with a Magic read (GET) or write (POST) permission."""
    needed = WRITE_PERMISSIONS if write else READ_PERMISSIONS
    if account_id not in credential.accounts or not (credential.permissions & needed):
        raise _authentication_error(403)
