"""The HTTP(S) layer: threads, keep-alive, TLS handshakes off the accept loop, resets, malformed input."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Callable
from urllib.parse import parse_qsl, urlsplit

from . import html_errors
from .envelope import ApiError, new_ray_id
from .records import HeaderMap
from .reply import Reply

MAX_BODY = 1 << 20
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 120.0

# handle_api(method, path, query, headers, body, client) and handle_control(method, path, body)
ApiHandler = Callable[[str, str, dict, HeaderMap, bytes, str], Reply]
ControlHandler = Callable[[str, str, bytes], Reply]
AccessLog = Callable[[str, str, int | None], None]


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, host: str, port: int, api_handler: ApiHandler, control_handler: ControlHandler,
                 is_control: Callable[[str], bool], ssl_context: ssl.SSLContext | None = None,
                 access_log: AccessLog | None = None):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.api_handler = api_handler
        self.control_handler = control_handler
        self.is_control = is_control
        self.ssl_context = ssl_context
        self.access_log = access_log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall; loopback needs none of it.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address) -> None:
        connection = request
        try:
            # Answers are small: without this, Nagle plus the client's delayed ACK cost ~40 ms per request.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                request.settimeout(HANDSHAKE_TIMEOUT)
                connection = self.ssl_context.wrap_socket(request, server_side=True)
            with self._connections_lock:
                self._connections.add(connection)
            self.RequestHandlerClass(connection, client_address, self)
        except (OSError, ssl.SSLError, ValueError):
            pass  # a client that hangs up or cannot speak TLS is not our problem
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            try:
                connection.close()
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        pass  # never print a traceback: it could hold a request's secrets

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    server: EmulatorHTTPServer

    def version_string(self) -> str:
        return "cloudflare"

    def log_request(self, code="-", size="-") -> None:
        pass

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except _BadRequest as problem:
            self.send_error(problem.status, problem.reason)
            return
        split = urlsplit(self.path)
        path = split.path or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            if self.server.is_control(path):
                reply = self.server.control_handler(self.command, path, body)
            else:
                headers = HeaderMap(self.headers.items())
                reply = self.server.api_handler(self.command, path, query, headers, body, self.client_address[0])
        except Exception:  # noqa: BLE001 - answer like an origin failure, print nothing
            reply = ApiError.single(500, 10001, "Internal server error").reply()
            reply.headers["cf-ray"] = new_ray_id()
        self._send(reply)
        if self.server.access_log is not None:
            self.server.access_log(self.command, path, None if reply.drop else reply.status)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise _BadRequest(400, "Bad Request")
        size = int(length)
        if size > MAX_BODY:
            raise _BadRequest(413, "Request Entity Too Large")
        body = self.rfile.read(size)
        if len(body) != size:
            raise _BadRequest(400, "Bad Request")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, "Bad Request") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise _BadRequest(413, "Request Entity Too Large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self._reset()
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.close:
            self.close_connection = True
            self.send_header("Connection", "close")
        if self.command != "HEAD":
            # one write for head and body: a client never sees headers without the body that follows them
            self._headers_buffer.append(b"\r\n" + reply.body)
            self.flush_headers()
        else:
            self.end_headers()

    def _reset(self) -> None:
        """Drop the connection: close with SO_LINGER 0 so the peer sees a RST, not a clean end."""
        self.close_connection = True
        connection = self.connection
        try:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for stream in (self.rfile, self.wfile):
            try:
                stream.close()
            except OSError:
                pass
        try:
            connection.close()
        except OSError:
            pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests get the plain HTML page Cloudflare's edge answers them with, then a close."""
        # The standard phrase only: parse errors quote the client's bytes, which have no place in a status line.
        reason = self.responses.get(code, ("Error",))[0]
        body = html_errors.bad_request_page(code, reason)
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.1"  # no HTTP/0.9 clients exist: always send a status line
        try:
            self.send_response(code, reason)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.send_header("cf-ray", new_ray_id())
            self.end_headers()
            if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass
