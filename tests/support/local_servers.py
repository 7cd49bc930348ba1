"""Small loopback servers for the client's transport tests: a CONNECT proxy that records what it saw, and an
HTTP server whose answers a test scripts (trickled, empty, oversized). Neither ever prints a header value."""

from __future__ import annotations

import http.server
import select
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field


@dataclass
class ProxySighting:
    """One request the proxy received: its method and target, and the names (never values) of its headers."""

    method: str
    target: str
    header_names: list[str] = field(default_factory=list)

    @property
    def had_authorization(self) -> bool:
        return any(n.lower() in ("authorization", "x-auth-key", "x-auth-email") for n in self.header_names)


class _ThreadedServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ConnectProxy:
    """An HTTP proxy on loopback that opens CONNECT tunnels to loopback only, and forwards nothing else.

    ``refuse_status`` makes it answer every CONNECT with that status instead. A plain request (``GET
    http://...``) is recorded and answered 502, so a test sees that it came, and nothing reaches the target.
    """

    def __init__(self, refuse_status: int | None = None):
        self.refuse_status = refuse_status
        self.seen: list[ProxySighting] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                proxy._handle(self)

        self._server = _ThreadedServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def methods(self) -> list[str]:
        with self._lock:
            return [s.method for s in self.seen]

    def _handle(self, handler) -> None:
        line = handler.rfile.readline(8192).decode("latin-1").strip()
        if not line:
            return
        method, target = (line.split(" ") + ["", ""])[:2]
        names = []
        while True:
            header = handler.rfile.readline(8192).decode("latin-1")
            if header in ("\r\n", "\n", ""):
                break
            names.append(header.split(":", 1)[0].strip())
        with self._lock:
            self.seen.append(ProxySighting(method, target, names))
        if method != "CONNECT":
            handler.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if self.refuse_status is not None:
            handler.wfile.write(f"HTTP/1.1 {self.refuse_status} Refused\r\nContent-Length: 0\r\n\r\n".encode())
            return
        host, port = target.rsplit(":", 1) if ":" in target else (target, "443")
        if host.strip("[]") not in ("127.0.0.1", "::1", "localhost"):
            handler.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        handler.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        handler.wfile.flush()
        _relay(handler.connection, upstream, handler.rfile)


def _relay(client, upstream, client_buffer) -> None:
    pending = client_buffer.peek() if hasattr(client_buffer, "peek") else b""
    if pending:
        upstream.sendall(client_buffer.read(len(pending)))
    sockets = [client, upstream]
    try:
        while True:
            readable = select.select(sockets, [], [], 30)[0]
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    except OSError:
        return
    finally:
        upstream.close()


class ScriptedServer:
    """A plain-HTTP server on loopback; ``answer(handler)`` writes each answer. Records when each request
    came and when its answer ended (the client went away or the script finished)."""

    def __init__(self, answer):
        self.answer = answer
        self.visits: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                visit = {"method": self.command, "path": self.path, "came": time.monotonic(), "ended": None}
                server.visits.append(visit)
                try:
                    server.answer(self)
                except OSError:
                    pass
                finally:
                    visit["ended"] = time.monotonic()
                    self.close_connection = True

            do_GET = do_POST = _any

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/client/v4"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()


def trickle(every: float = 2.0, limit: float = 60.0):
    """An answer that announces a JSON body and then sends one byte of it every ``every`` seconds."""
    def answer(handler):
        body = b'{"success": true, "errors": [], "messages": [], "result": {"psk": "x"}}' + b" " * 4096
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        started = time.monotonic()
        for i in range(len(body)):
            handler.wfile.write(body[i:i + 1])
            handler.wfile.flush()
            next_byte = time.monotonic() + every
            while time.monotonic() < next_byte:
                if time.monotonic() - started > limit or _client_left(handler.connection):
                    return
                time.sleep(0.05)
    return answer


def _client_left(conn) -> bool:
    """True once the client has closed its side (readable with nothing to read)."""
    readable = select.select([conn], [], [], 0)[0]
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def fixed(status: int, body: bytes, content_type: str = "application/json"):
    def answer(handler):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return answer


def large(size: int, chunked: bool = False):
    """A JSON answer of ``size`` bytes, made on the fly (never held whole), with or without Content-Length."""
    head = b'{"success": true, "errors": [], "messages": [], "result": {"ipsec_tunnels": [], "pad": "'
    tail = b'"}}'

    def answer(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        pad = size - len(head) - len(tail)
        pieces = [head] + [b"a" * 65536] * (pad // 65536) + [b"a" * (pad % 65536), tail]
        for piece in pieces:
            if not piece:
                continue
            if chunked:
                handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                handler.wfile.write(piece)
        if chunked:
            handler.wfile.write(b"0\r\n\r\n")
    return answer


def trickle_headers(every: float = 1.0, limit: float = 60.0):
    """An answer whose header lines come one byte every ``every`` seconds."""
    def answer(handler):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        started = time.monotonic()
        for byte in b"X-Slow: " + b"a" * 1000:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            if time.monotonic() - started > limit or _client_left(handler.connection):
                return
            time.sleep(every)
    return answer
