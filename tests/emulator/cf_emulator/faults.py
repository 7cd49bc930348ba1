"""Scripted faults: what goes wrong, for which requests, how many times."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Faults that answer in place of the API: nothing is persisted.
ANSWER_REPLACING = frozenset({"rate_limited", "server_error_json", "server_error_html", "success_false", "html_200",
                              "echo_request"})
# Faults that let the operation run and then spoil or delay the answer.
OPERATION_RUNS = frozenset({"reset_after", "delay", "delay_after_persist", "truncated_json", "force_psk",
                            "hostile_answer"})
KINDS = frozenset({"reset_before"}) | ANSWER_REPLACING | OPERATION_RUNS

DEFAULT_STATUS = {"rate_limited": 429, "server_error_json": 500, "server_error_html": 502, "success_false": 200,
                  "echo_request": 400}
DEFAULT_DELAY = {"delay": 1.0, "delay_after_persist": 1.0}
PSK_GENERATE_PATH = re.compile(r"/psk_generate$")


@dataclass
class Fault:
    """One scripted fault. ``times=None`` (or a negative number) fires on every matching request."""

    kind: str
    times: int | None = 1
    match_path: str | None = None  # substring of, or regex searched in, the request path
    method: str | None = None
    status: int | None = None
    retry_after: int | float | str | None = None  # None: no Retry-After header (rate_limited)
    delay: float | None = None
    psk: str | None = field(default=None, repr=False)  # a test may make it hold a credential: never shown
    code: int | None = None  # error code for the JSON faults; a sensible default otherwise
    message: str | None = None
    # hostile_answer: dotted field paths of a tunnel (or of a psk_generate result) and the values to answer
    # instead, such as {"custom_remote_identities.fqdn_id": "x.example.com'\nset ..."}; nothing is persisted.
    fields: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(sorted(KINDS))}")
        if self.kind == "force_psk" and not isinstance(self.psk, str):
            raise ValueError("force_psk needs psk (a string)")
        if self.kind == "hostile_answer" and not (isinstance(self.fields, dict) and self.fields):
            raise ValueError("hostile_answer needs fields (a non-empty mapping of field paths to values)")
        if self.times is not None and not isinstance(self.times, int):
            raise ValueError("times must be an integer or None")
        if self.times == 0:
            raise ValueError("times must not be 0")
        if self.delay is not None and (not isinstance(self.delay, (int, float)) or self.delay < 0):
            raise ValueError("delay must be a non-negative number of seconds")
        if self.status is not None and not (isinstance(self.status, int) and 100 <= self.status <= 599):
            raise ValueError("status must be an HTTP status code")
        if self.match_path is not None:
            try:
                re.compile(self.match_path)
            except re.error:
                pass  # still usable as a plain substring

    @property
    def effective_status(self) -> int:
        return self.status if self.status is not None else DEFAULT_STATUS.get(self.kind, 200)

    @property
    def effective_delay(self) -> float:
        return self.delay if self.delay is not None else DEFAULT_DELAY.get(self.kind, 0.0)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.kind == "force_psk" and self.match_path is None:
            # "the next generated key": only a key generation can use it
            return method.upper() == "POST" and bool(PSK_GENERATE_PATH.search(path))
        if self.match_path is None:
            return True
        if self.match_path in path:
            return True
        try:
            return re.search(self.match_path, path) is not None
        except re.error:
            return False

    def to_json(self, redact: bool = False) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None or k == "times"}
        if redact and "psk" in data:
            data["psk"] = "[redacted]"
        if redact and "psk" in (data.get("fields") or {}):
            data["fields"] = {**data["fields"], "psk": "[redacted]"}
        return data

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise ValueError("a fault needs a kind")
        return cls(**data)


class FaultQueue:
    """Faults in the order they were pushed; the first one matching a request fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[list[Any]] = []  # [fault, remaining]

    def push(self, fault: Fault) -> None:
        remaining = None if fault.times is None or fault.times < 0 else fault.times
        with self._lock:
            self._queue.append([fault, remaining])

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, entry in enumerate(self._queue):
                fault, remaining = entry
                if not fault.matches(method, path):
                    continue
                if remaining is not None:
                    entry[1] = remaining - 1
                    if entry[1] <= 0:
                        del self._queue[index]
                return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return [entry[0] for entry in self._queue]

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()


def hostile_body(body: bytes, fields: dict[str, Any]) -> bytes:
    """A successful JSON answer with ``fields`` set in each tunnel it holds (``result.ipsec_tunnel``, every one of
    ``result.ipsec_tunnels``) or, for a psk_generate answer, in ``result`` itself. Other answers are left as they are."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return body
    result = document.get("result") if isinstance(document, dict) and document.get("success") else None
    if not isinstance(result, dict):
        return body
    if isinstance(result.get("ipsec_tunnel"), dict):
        targets = [result["ipsec_tunnel"]]
    elif isinstance(result.get("ipsec_tunnels"), list):
        targets = [t for t in result["ipsec_tunnels"] if isinstance(t, dict)]
    else:
        targets = [result]
    for target in targets:
        for path, value in fields.items():
            *parents, leaf = path.split(".")
            node = target
            for part in parents:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            node[leaf] = value
    return json.dumps(document, separators=(",", ":")).encode("utf-8")
