"""A small SSH server with an interactive CLI, for network device simulators (test equipment).

It speaks real SSH (paramiko), takes password authentication, opens a shell channel with a PTY, shows a
banner and a prompt, echoes what it receives as a terminal does, and feeds each line to a platform
object (``CliDevice``) that answers it. ansible.netcommon.network_cli talks to it as to a router.

    with SshDeviceServer(router.session, "admin", "secret") as server:
        server.port   # ansible_port

As its own process (prints ``listening on 127.0.0.1 PORT`` once ready, stops on SIGTERM):
    python -m devices.sshcli --device devices.ios_xe:IosXeRouter --username admin --password secret [--port 0]
        [--ready-file FILE] [--refuse]
``--refuse`` (``refuse_connections = True`` in process) closes every connection at once: an unreachable device.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import threading

import paramiko

_HOST_KEY = None
_HOST_KEY_LOCK = threading.Lock()


def _host_key():
    """One RSA host key per process: generating one costs a noticeable fraction of a second."""
    global _HOST_KEY
    with _HOST_KEY_LOCK:
        if _HOST_KEY is None:
            _HOST_KEY = paramiko.RSAKey.generate(2048)
        return _HOST_KEY


class CliDevice:
    """One CLI session of a device. Platforms override banner, prompt and handle.

    ``lines`` holds every line the session received (filled in by the server before ``handle``);
    ``echo_input`` is False while the device reads a password; ``closed`` ends the session.
    """

    def __init__(self):
        self.lines: list[str] = []
        self.echo_input = True
        self.closed = False

    def banner(self) -> str:
        return ""

    def prompt(self) -> str:
        return "> "

    def handle(self, line: str) -> str:
        return ""


class _Authenticator(paramiko.ServerInterface):
    def __init__(self, username, password):
        self._username = username
        self._password = password
        self.shell_ready = threading.Event()

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_password(self, username, password):
        ok = username == self._username and password == self._password
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, channel, term, width, height, pixelwidth, pixelheight, modes):
        return True

    def check_channel_shell_request(self, channel):
        self.shell_ready.set()
        return True


def _split_lines(buffer: bytes):
    """Complete lines in ``buffer`` (ended by CR, LF or CR LF) and the rest."""
    lines = []
    while True:
        ends = [i for i in (buffer.find(b"\r"), buffer.find(b"\n")) if i >= 0]
        if not ends:
            return lines, buffer
        end = min(ends)
        lines.append(buffer[:end])
        skip = 2 if buffer[end:end + 2] == b"\r\n" else 1
        buffer = buffer[end + skip:]


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def _serve_shell(channel, device):
    channel.sendall(_crlf(device.banner() + device.prompt()))
    pending = b""
    while not device.closed:
        data = channel.recv(4096)
        if not data:
            return
        lines, pending = _split_lines(pending + data)
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            device.lines.append(line)
            echo = (line if device.echo_input else "") + "\n"
            output = device.handle(line)
            if output and not output.endswith("\n") and not device.closed and device.prompt():
                output += "\n"
            channel.sendall(_crlf(echo + output + ("" if device.closed else device.prompt())))
            if device.closed:
                return


class SshDeviceServer:
    """An SSH server on ``host`` (port 0: a free port) whose sessions are ``device_factory()`` objects."""

    def __init__(self, device_factory, username, password, host="127.0.0.1", port=0):
        self._factory = device_factory
        self._username = username
        self._password = password
        self._host = host
        self._requested_port = port
        self._listener = None
        self._threads = []
        self._transports = []
        self._stopping = threading.Event()
        self.refuse_connections = False
        self.port = None

    def start(self):
        self._listener = socket.create_server((self._host, self._requested_port))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    def stop(self):
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        for transport in list(self._transports):
            transport.close()
        for thread in list(self._threads):
            thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                client, _address = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.refuse_connections:
                client.close()
                continue
            self._spawn(self._serve_client, client)

    def _serve_client(self, client):
        transport = paramiko.Transport(client)
        self._transports.append(transport)
        transport.add_server_key(_host_key())
        authenticator = _Authenticator(self._username, self._password)
        try:
            transport.start_server(server=authenticator)
            channel = transport.accept(timeout=20)
            if channel is None or not authenticator.shell_ready.wait(timeout=20):
                return
            _serve_shell(channel, self._factory())
        except (EOFError, OSError, paramiko.SSHException):
            return
        finally:
            transport.close()
            self._transports.remove(transport)


def _load_factory(spec):
    """``module:Class`` -> a session factory: ``Class().session`` when it has one, else ``Class``."""
    module_name, _, name = spec.partition(":")
    thing = getattr(importlib.import_module(module_name), name)()
    return getattr(thing, "session", None) or (lambda: thing)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devices.sshcli", description=__doc__.splitlines()[0])
    parser.add_argument("--device", required=True, help="module:Class of the platform, e.g. devices.ios_xe:IosXeRouter")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", help="written with {port, pid} once listening, removed on exit")
    parser.add_argument("--refuse", action="store_true", help="close every connection at once (unreachable device)")
    args = parser.parse_args(argv)
    server = SshDeviceServer(_load_factory(args.device), args.username, args.password, args.host, args.port)
    server.refuse_connections = args.refuse
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as handle:
            json.dump({"port": server.port, "pid": os.getpid()}, handle)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(f"listening on {args.host} {server.port}", flush=True)
    stopped.wait()
    server.stop()
    if args.ready_file and os.path.exists(args.ready_file):
        os.unlink(args.ready_file)


if __name__ == "__main__":
    main()
