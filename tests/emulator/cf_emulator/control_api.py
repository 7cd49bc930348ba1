"""The out-of-process control endpoints under /__emulator/ (plain JSON, no envelope, no rate limit)."""

from __future__ import annotations

import json

from .faults import Fault, FaultQueue
from .published import answered_tunnel
from .records import RequestLog
from .reply import Reply
from .state import State

CONTROL_PREFIX = "/__emulator"


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def handle_control(state: State, log: RequestLog, faults: FaultQueue, method: str, path: str,
                   body: bytes) -> Reply:
    parts = path[len(CONTROL_PREFIX):].strip("/").split("/")
    route = (method, parts[0] if parts else "", len(parts))
    if route == ("GET", "health", 1):
        return Reply.json(200, {"ok": True})
    if route == ("GET", "edge", 2):
        tunnel = state.tunnel(parts[1])
        if tunnel is None:
            return _error(404, "unknown tunnel")
        return Reply.json(200, {"psk": state.edge_psk(parts[1]),
                                "last_generated_on": (tunnel.get("psk_metadata") or {}).get("last_generated_on")})
    if route == ("GET", "requests", 1):
        return Reply.json(200, [record.to_json() for record in log.snapshot()])
    if route == ("DELETE", "requests", 1):
        log.clear()
        return Reply.json(200, {"cleared": True})
    if route == ("GET", "faults", 1):
        return Reply.json(200, [fault.to_json(redact=True) for fault in faults.pending()])
    if route == ("DELETE", "faults", 1):
        faults.clear()
        return Reply.json(200, {"cleared": True})
    if route == ("POST", "faults", 1):
        try:
            fault = Fault.from_json(json.loads(body.decode("utf-8") or "null"))
        except (ValueError, TypeError, UnicodeDecodeError) as problem:
            return _error(400, f"invalid fault: {problem}")
        faults.push(fault)
        return Reply.json(201, {"queued": fault.to_json(redact=True)})
    if route == ("GET", "tunnels", 1):
        return Reply.json(200, [answered_tunnel(t) for t in state.all_tunnels()])
    if route == ("GET", "tunnels", 2):
        tunnel = state.tunnel(parts[1])
        return Reply.json(200, answered_tunnel(tunnel)) if tunnel is not None else _error(404, "unknown tunnel")
    return _error(404, "no such control endpoint")


def _error(status: int, message: str) -> Reply:
    return Reply.json(status, {"error": message})
