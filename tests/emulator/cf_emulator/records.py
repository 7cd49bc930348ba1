"""The record of every API request the emulator saw, and what it answered."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

SECRET_HEADERS = frozenset({"authorization", "x-auth-key", "x-auth-user-service-key", "cookie", "proxy-authorization"})
REDACTED = "[redacted]"


class HeaderMap(dict):
    """A dict of headers with case-insensitive lookup; keys are kept lower-case."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        super().__init__()
        for name, value in items:
            key = name.lower()
            super().__setitem__(key, f"{self[key]}, {value}" if key in self else value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def redacted(self) -> dict[str, str]:
        return {k: (REDACTED if k in SECRET_HEADERS else v) for k, v in self.items()}

    def __repr__(self) -> str:  # never show a credential, even in a failing assertion
        return f"HeaderMap({self.redacted()!r})"


@dataclass(eq=False)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: HeaderMap
    body: bytes | None
    time: float
    client: str = ""
    status: int | None = None  # None: the connection was dropped without an answer
    credential_id: str | None = None  # the token id or the global-key user id that authenticated
    credential_name: str | None = None  # its name in the seed
    credential_kind: str | None = None  # "token" or "global_key"
    fault: str | None = None  # the kind of the fault that fired on this request
    ray_id: str | None = None
    body_sha256: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.body_sha256 = hashlib.sha256(self.body or b"").hexdigest()

    @property
    def token_id(self) -> str | None:
        return self.credential_id if self.credential_kind == "token" else None

    def to_json(self) -> dict[str, Any]:
        """What the control endpoint shows: no secret header values, no body (only its size and hash)."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers.redacted(),
            "status": self.status,
            "credential_id": self.credential_id,
            "credential_name": self.credential_name,
            "credential_kind": self.credential_kind,
            "fault": self.fault,
            "ray_id": self.ray_id,
            "time": self.time,
            "client": self.client,
            "body_length": len(self.body or b""),
            "body_sha256": self.body_sha256,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordedRequest:
        record = cls(
            method=data["method"], path=data["path"], query=dict(data.get("query") or {}),
            headers=HeaderMap((data.get("headers") or {}).items()), body=None, time=data.get("time", 0.0),
            client=data.get("client", ""), status=data.get("status"), credential_id=data.get("credential_id"),
            credential_name=data.get("credential_name"), credential_kind=data.get("credential_kind"),
            fault=data.get("fault"), ray_id=data.get("ray_id"),
        )
        record.body_sha256 = data.get("body_sha256", "")
        return record

    def __repr__(self) -> str:
        return (f"RecordedRequest({self.method} {self.path} query={self.query!r} status={self.status} "
                f"credential={self.credential_name} fault={self.fault})")


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []

    def add(self, record: RecordedRequest) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
