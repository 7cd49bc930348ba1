"""Cloudflare's response envelope, its errors, and Ray IDs."""

from __future__ import annotations

import secrets
from typing import Any

from .reply import Reply

RAY_COLO = "SJC"


def new_ray_id() -> str:
    """A Ray ID shaped like Cloudflare's: 16 hex digits, a dash, a data centre code."""
    return f"{secrets.token_hex(8)}-{RAY_COLO}"


def error(code: int, message: str, chain: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": code, "message": message}
    if chain:
        entry["error_chain"] = chain
    return entry


def success_document(result: Any) -> dict[str, Any]:
    return {"success": True, "errors": [], "messages": [], "result": result}


def failure_document(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"success": False, "errors": errors, "messages": [], "result": None}


class ApiError(Exception):
    """A failure answered with Cloudflare's envelope (``success: false``, ``result: null``)."""

    def __init__(self, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None):
        super().__init__(f"HTTP {status}: " + ", ".join(str(e["code"]) for e in errors))
        self.status = status
        self.errors = errors
        self.headers = dict(headers or {})

    @classmethod
    def single(cls, status: int, code: int, message: str, **kwargs: Any) -> ApiError:
        return cls(status, [error(code, message, kwargs.pop("chain", None))], **kwargs)

    def reply(self) -> Reply:
        return Reply.json(self.status, failure_document(self.errors), self.headers)


def ok(result: Any, status: int = 200) -> Reply:
    return Reply.json(status, success_document(result))
