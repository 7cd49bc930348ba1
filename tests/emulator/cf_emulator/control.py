"""A client for the control endpoints, with the same methods as the in-process ``Emulator``."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from .faults import Fault
from .records import RecordedRequest


class ControlError(RuntimeError):
    pass


class ControlClient:
    def __init__(self, control_url: str, ca_file: str | None = None, timeout: float = 10.0):
        self.control_url = control_url.rstrip("/")
        self.timeout = timeout
        self._context = ssl.create_default_context(cafile=ca_file) if control_url.startswith("https:") else None

    @classmethod
    def from_ready_file(cls, path: str) -> ControlClient:
        with open(path, encoding="utf-8") as handle:
            ready = json.load(handle)
        return cls(ready["control_url"], ready.get("ca_file"))

    def edge_psk(self, tunnel_id: str) -> str | None:
        """As ``Emulator.edge_psk``: None if never generated, ControlError (HTTP 404) for an unknown tunnel."""
        return self._call("GET", f"/edge/{tunnel_id}")["psk"]

    def edge(self, tunnel_id: str) -> dict[str, Any]:
        """``{"psk": ..., "last_generated_on": ...}``"""
        return self._call("GET", f"/edge/{tunnel_id}")

    def tunnel(self, tunnel_id: str) -> dict[str, Any]:
        return self._call("GET", f"/tunnels/{tunnel_id}")

    def tunnels(self) -> list[dict[str, Any]]:
        return self._call("GET", "/tunnels")

    @property
    def requests(self) -> list[RecordedRequest]:
        """As recorded by the emulator, without secret header values or bodies."""
        return [RecordedRequest.from_json(item) for item in self._call("GET", "/requests")]

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def push_fault(self, fault: Fault | dict[str, Any]) -> None:
        payload = fault.to_json() if isinstance(fault, Fault) else dict(fault)
        self._call("POST", "/faults", payload)

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def pending_faults(self) -> list[dict[str, Any]]:
        """Queued faults (a forced ``psk`` shows as ``[redacted]``)."""
        return self._call("GET", "/faults")

    def health(self) -> bool:
        return bool(self._call("GET", "/health").get("ok"))

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.control_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context) as answer:
                return json.loads(answer.read().decode("utf-8"))
        except urllib.error.HTTPError as failure:
            detail = failure.read().decode("utf-8", "replace")
            raise ControlError(f"{method} {path}: HTTP {failure.code}: {detail}") from None
