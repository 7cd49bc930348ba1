"""One API request end to end: record it, fire a fault, count it against the rate limit, answer it."""

from __future__ import annotations

import threading
import time

from . import api, html_errors
from .auth import authenticate
from .envelope import ApiError, error, failure_document, new_ray_id
from .faults import ANSWER_REPLACING, Fault, FaultQueue, hostile_body
from .ratelimit import RateLimiter
from .records import HeaderMap, RecordedRequest, RequestLog
from .reply import Reply
from .state import State

THROTTLED_CODE = 971
THROTTLED_MESSAGE = "Please wait and consider throttling your request speed"


class Application:
    def __init__(self, state: State, faults: FaultQueue, ratelimiter: RateLimiter, log: RequestLog,
                 stopping: threading.Event):
        self.state = state
        self.faults = faults
        self.ratelimiter = ratelimiter
        self.log = log
        self._stopping = stopping

    def handle_api(self, method: str, path: str, query: dict[str, str], headers: HeaderMap, body: bytes,
                   client: str) -> Reply:
        ray_id = new_ray_id()
        record = RecordedRequest(method=method, path=path, query=query, headers=headers, body=body,
                                 time=time.time(), client=client, ray_id=ray_id)
        self.log.add(record)
        auth = authenticate(headers, self.state)
        if auth.credential is not None:
            record.credential_id = auth.credential.id
            record.credential_name = auth.credential.name
            record.credential_kind = auth.credential.kind
        fault = self.faults.take(method, path)
        record.fault = fault.kind if fault else None
        reply = self._answer(method, path, query, headers, body, client, ray_id, auth, fault)
        if not reply.drop:
            reply.headers["cf-ray"] = ray_id
        record.status = None if reply.drop else reply.status
        return reply

    def _answer(self, method, path, query, headers, body, client, ray_id, auth, fault: Fault | None) -> Reply:
        kind = fault.kind if fault else None
        if kind == "reset_before":
            self._sleep(fault.effective_delay)
            return Reply.dropped()
        verdict = self.ratelimiter.hit(auth.rate_limit_key or f"ip:{client}")
        limits = self.ratelimiter.headers(verdict)
        if kind in ANSWER_REPLACING:
            self._sleep(fault.effective_delay)
            if kind == "echo_request":
                return echo_reply(fault, limits, method, path, headers, body)
            return self._fault_reply(fault, limits, ray_id, client)
        if not verdict.allowed:
            return ApiError.single(429, THROTTLED_CODE, THROTTLED_MESSAGE,
                                   headers={**limits, "Retry-After": str(verdict.retry_after)}).reply()
        if fault is not None and kind != "delay_after_persist":
            self._sleep(fault.effective_delay)
        api_path = path[len(api.API_PREFIX):] if path.startswith(api.API_PREFIX + "/") else ""
        request = api.ApiRequest(method, api_path, query, body, headers)
        reply = api.handle(self.state, request, auth, fault.psk if kind == "force_psk" else None)
        reply.headers.update(limits)
        if kind == "delay_after_persist":
            self._sleep(fault.effective_delay)
        if kind == "reset_after":
            return Reply.dropped()
        if kind == "hostile_answer":
            reply.body = hostile_body(reply.body, fault.fields)
        if kind == "truncated_json":
            reply.body = reply.body[: len(reply.body) // 2]
            reply.close = True
        return reply

    def _fault_reply(self, fault: Fault, limits: dict[str, str], ray_id: str, client: str) -> Reply:
        status = fault.effective_status
        if fault.kind == "server_error_html":
            return Reply.html(status, html_errors.edge_error_page(status, ray_id, client))
        if fault.kind == "html_200":
            return Reply.html(status, html_errors.proxy_page())
        if fault.kind == "rate_limited":
            headers = dict(limits)
            wait = fault.retry_after if isinstance(fault.retry_after, int) else _reset_part(limits)
            headers["Ratelimit"] = f'"default";r=0;t={wait}'
            if fault.retry_after is not None:
                headers["Retry-After"] = _header_value(fault.retry_after)
            return ApiError.single(status, fault.code or THROTTLED_CODE, fault.message or THROTTLED_MESSAGE,
                                   headers=headers).reply()
        if fault.kind == "server_error_json":
            return ApiError.single(status, fault.code or 10001, fault.message or "Internal server error",
                                   headers=limits).reply()
        # success_false: an HTTP 200 that is still a failure
        return ApiError.single(status, fault.code or 1001, fault.message or "Request could not be completed",
                               headers=limits).reply()

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


ECHO_CODE = 1004  # the emulator's own: Cloudflare documents no answer that quotes a request


def echo_reply(fault: Fault, limits: dict[str, str], method: str, path: str, headers: HeaderMap, body: bytes) -> Reply:
    """A hostile answer: an error whose message quotes the request's credentials and body, as a
    careless origin or proxy might. A client must show none of it unredacted."""
    quoted = (f"{method} {path} rejected; Authorization: {headers.get('Authorization', '')}; "
              f"X-Auth-Email: {headers.get('X-Auth-Email', '')}; X-Auth-Key: {headers.get('X-Auth-Key', '')}; "
              f"body: {body.decode('utf-8', 'replace')}")
    document = failure_document([error(fault.code or ECHO_CODE, fault.message or quoted)])
    document["messages"] = [{"code": fault.code or ECHO_CODE, "message": quoted}]
    return Reply.json(fault.effective_status, document, limits)


def _reset_part(limits: dict[str, str]) -> str:
    """The ``t=`` part of a ``Ratelimit`` header."""
    return limits["Ratelimit"].rpartition("t=")[2]


def _header_value(value: int | float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
