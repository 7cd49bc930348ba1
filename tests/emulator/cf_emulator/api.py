"""The Magic IPsec tunnel routes under /client/v4: routing, identifier checks, handlers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import bulk
from .auth import AuthOutcome, authorize
from .envelope import ApiError, ok
from .published import answered_tunnel, wants_new_hc_target
from .reply import Reply
from .state import State

API_PREFIX = "/client/v4"
IDENTIFIER = re.compile(r"^[0-9a-f]{32}$")

# Not documented by Cloudflare; chosen here and listed in the README.
METHOD_NOT_ALLOWED_CODE = 10405
BAD_QUERY_CODE = 1002
MALFORMED_JSON_CODE = 6007

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@dataclass(frozen=True)
class ApiRequest:
    method: str
    api_path: str  # the path below /client/v4, without the query
    query: dict[str, str]
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    name: str  # "list", "get", "psk_generate" or "psk_bulk"
    methods: tuple[str, ...]
    account_id: str
    tunnel_id: str | None = None

    @property
    def writes(self) -> bool:
        return self.name in ("psk_generate", "psk_bulk")


def resolve(method: str, api_path: str) -> Route:
    segments = api_path.split("/")[1:] if api_path.startswith("/") else []
    route = _match(segments)
    if route is None:
        raise ApiError.single(404, 7000, "No route for that URI")
    if method not in route.methods:
        raise ApiError.single(405, METHOD_NOT_ALLOWED_CODE, f"Method {method} not allowed for this route",
                              headers={"Allow": ", ".join(route.methods)})
    for identifier in (route.account_id, route.tunnel_id):
        if identifier is not None and not IDENTIFIER.match(identifier):
            raise _could_not_route(400, api_path)
    return route


def _match(segments: list[str]) -> Route | None:
    if len(segments) < 4 or segments[0] != "accounts" or segments[2:4] != ["magic", "ipsec_tunnels"]:
        return None
    if any(not s for s in segments):
        return None
    account = segments[1]
    if len(segments) == 4:
        return Route("list", ("GET",), account)
    if len(segments) == 5 and segments[4] == bulk.SEGMENT:
        return Route("psk_bulk", ("POST",), account)
    if len(segments) == 5:
        return Route("get", ("GET",), account, segments[4])
    if len(segments) == 6 and segments[5] == "psk_generate":
        return Route("psk_generate", ("POST",), account, segments[4])
    return None


def _could_not_route(status: int, api_path: str) -> ApiError:
    return ApiError.single(status, 7003, f"Could not route to {api_path}, perhaps your object identifier is invalid?")


def handle(state: State, request: ApiRequest, auth: AuthOutcome, forced_psk: str | None = None) -> Reply:
    """Answer one API request; Cloudflare-style failures are returned as their envelope."""
    try:
        return _handle(state, request, auth, forced_psk)
    except ApiError as failure:
        return failure.reply()


def _handle(state: State, request: ApiRequest, auth: AuthOutcome, forced_psk: str | None) -> Reply:
    route = resolve(request.method, request.api_path)
    if auth.error is not None:
        raise auth.error
    assert auth.credential is not None
    if route.account_id not in state.accounts:
        raise _could_not_route(404, request.api_path)
    authorize(auth.credential, route.account_id, write=route.writes)
    new_hc_target = wants_new_hc_target(request.headers)
    if route.name == "list":
        return ok({"ipsec_tunnels": [answered_tunnel(t, new_hc_target) for t in state.list_tunnels(route.account_id)]})
    if route.name == "psk_bulk":
        validate_only = _validate_only(request.query)
        return ok(bulk.set_psks(state, route.account_id, _require_json_object(request.body), validate_only))
    assert route.tunnel_id is not None
    tunnel = state.tunnel(route.tunnel_id, route.account_id)
    if tunnel is None:
        raise _could_not_route(404, request.api_path)
    if route.name == "get":
        return ok({"ipsec_tunnel": answered_tunnel(tunnel, new_hc_target)})
    validate_only = _validate_only(request.query)
    _require_no_body_or_json_object(request.body)
    return ok(state.generate_psk(route.tunnel_id, persist=not validate_only, forced_psk=forced_psk))


def _validate_only(query: dict[str, str]) -> bool:
    value = query.get("validate_only")
    if value is None or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise ApiError.single(400, BAD_QUERY_CODE, "Invalid value for validate_only: expected a boolean")


def _require_no_body_or_json_object(body: bytes) -> dict[str, Any]:
    """No body (the SDK 5.x sends none) or a JSON object (the docs send ``{}``); anything else is refused.

    Cloudflare documents neither what it accepts nor how it refuses: refusing malformed or non-object
    JSON (with an error code of our own) is this emulator's choice, listed in docs/emulator.md.
    """
    if not body.strip():
        return {}
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if not isinstance(document, dict):
        raise ApiError.single(400, MALFORMED_JSON_CODE, "Malformed JSON in request body")
    return document


def _require_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object, for requests whose body carries their content (bulk PSKs); no body is refused."""
    if not body.strip():
        raise ApiError.single(400, MALFORMED_JSON_CODE, "Malformed JSON in request body")
    return _require_no_body_or_json_object(body)
