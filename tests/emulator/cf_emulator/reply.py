"""What the HTTP layer is told to do with one request: answer, answer and close, or drop."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=UTF-8"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # reset the connection without answering
    close: bool = False  # answer, then close the connection

    @classmethod
    def json(cls, status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        return cls(status=status, body=body, content_type=JSON_TYPE, headers=dict(headers or {}))

    @classmethod
    def html(cls, status: int, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        return cls(status=status, body=body, content_type=HTML_TYPE, headers=dict(headers or {}))

    @classmethod
    def dropped(cls) -> Reply:
        return cls(status=0, drop=True)
