"""A small SSH server that plays a network device's CLI, for tests that drive the vendor collections.

It speaks real SSH (paramiko's server side): password authentication, a session channel with a PTY and
an interactive shell, and exec requests. Everything a platform does lives in a ``CliDevice`` subclass:
its banner, its prompt (which may change with the mode), and the output of one command line. The
server only moves bytes: it echoes each line as a terminal would (not while the device reads a
password), asks the device for the output and the next prompt, and writes both.

    with SshDeviceServer(lambda: vyos_device, "vyos", "secret") as server:   # one device, every session
    with SshDeviceServer(ios_router.session, "admin", "secret") as server:    # a session object per connection
        ...  # ansible_host=127.0.0.1 ansible_port=server.port; server.refuse = True: an unreachable device

As its own process (run from anywhere; prints ``listening on HOST PORT`` once ready, stops on SIGTERM):
    python tests/devices/sshcli.py --platform vyos|ios_xe --username U --password P [--hostname H]
        [--edge-key-file F] [--port N] [--ready-file F] [--refuse]
    python -m devices.sshcli --device devices.ios_xe:IosXeRouter --username U --password P   (from tests/)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import paramiko

_HOST_KEY = None
_HOST_KEY_LOCK = threading.Lock()


def _host_key():
    """One RSA host key per process: generating one takes a moment, and the tests never pin it."""
    global _HOST_KEY
    with _HOST_KEY_LOCK:
        if _HOST_KEY is None:
            _HOST_KEY = paramiko.RSAKey.generate(2048)
        return _HOST_KEY


class CliDevice:
    """A platform's CLI: subclasses answer ``handle(line)`` and say which prompt comes next.

    ``lines`` holds every line received, in order (``receive`` records it before ``handle`` answers);
    ``echo_input`` is False while the device reads a password; ``closed`` ends the session.
    """

    def __init__(self):
        self.lines: list[str] = []
        self.echo_input = True
        self.closed = False

    def session_start(self) -> None:
        """A new shell session begins (a device shared by sessions resets its mode, candidate... here)."""

    def banner(self) -> str:
        return ""

    def prompt(self) -> str:
        raise NotImplementedError

    def handle(self, line: str) -> str:
        raise NotImplementedError

    def receive(self, line: str) -> str:
        """Record ``line`` and answer it (what the server calls)."""
        self.lines.append(line)
        return self.handle(line)


class _Session(paramiko.ServerInterface):
    def __init__(self, username, password):
        self.username, self.password = username, password
        self.shell = threading.Event()
        self.exec_command = None

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_password(self, username, password):
        if username == self.username and password == self.password:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, channel, term, width, height, pixelwidth, pixelheight, modes):
        return True

    def check_channel_shell_request(self, channel):
        self.shell.set()
        return True

    def check_channel_exec_request(self, channel, command):
        self.exec_command = command.decode("utf-8", "replace")
        self.shell.set()
        return True


def _crlf(text: str) -> bytes:
    """A terminal's output: every line ends in CR LF (the PTY's onlcr)."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


class SshListener:
    """Listens on ``host`` (port 0: the system picks; see ``.port``) and serves each connection on a thread of
    its own (``_serve``, a subclass's); each connection gets a device from ``device_factory``. ``refuse``: the
    port stays open but every connection is closed before SSH starts, as a router that is down behind a live NAT
    would; set ``server.refuse`` at any time."""

    thread_name = "ssh"

    def __init__(self, device_factory, username, password, host="127.0.0.1", port=0, refuse=False):
        self.device_factory = device_factory
        self.username, self.password = username, password
        self.host = host
        self.refuse = refuse
        self.port = None
        self._requested_port = port
        self._listener = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._transports: list[paramiko.Transport] = []

    def start(self):
        self._listener = socket.create_server((self.host, self._requested_port))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._listener:
            self._listener.close()
        for transport in list(self._transports):
            transport.close()
        for thread in list(self._threads):
            thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, name=f"{self.thread_name}:{self.port}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self):
        while not self._stopping.is_set():
            try:
                conn = self._listener.accept()[0]
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refuse:
                conn.close()
                continue
            self._spawn(self._serve, conn)

    def _serve(self, conn):
        raise NotImplementedError

    def _accept_channel(self, transport, timeout=30.0):
        """The session's channel, or None once the client is gone (a refused login), the server stops, or
        ``timeout`` passes: paramiko's ``accept`` would sleep out its whole timeout in those cases, and ``stop``
        would wait for the thread."""
        deadline = time.monotonic() + timeout
        while transport.is_active() and not self._stopping.is_set() and time.monotonic() < deadline:
            channel = transport.accept(0.1)
            if channel is not None:
                return channel
        return None


class SshDeviceServer(SshListener):
    """A CLI router over SSH (see SshListener); a factory that returns the same object each time makes the
    sessions share it. ``devices`` lists the devices served."""

    thread_name = "sshcli"

    def __init__(self, device_factory, username, password, host="127.0.0.1", port=0, refuse=False):
        super().__init__(device_factory, username, password, host, port, refuse)
        self.devices: list[CliDevice] = []

    def _serve(self, conn):
        transport = paramiko.Transport(conn)
        self._transports.append(transport)
        transport.add_server_key(_host_key())
        session = _Session(self.username, self.password)
        try:
            transport.start_server(server=session)
            channel = self._accept_channel(transport)
            if channel is None or not session.shell.wait(30):
                return
            device = self.device_factory()
            if device not in self.devices:
                self.devices.append(device)
            if session.exec_command is not None:
                channel.sendall(_crlf(device.receive(session.exec_command)))
                channel.send_exit_status(0)
            else:
                self._shell(channel, device)
            channel.close()
        except (EOFError, OSError, paramiko.SSHException):
            pass
        finally:
            transport.close()
            if transport in self._transports:
                self._transports.remove(transport)

    def _shell(self, channel, device):
        device.session_start()
        device.closed = False
        channel.sendall(_crlf(device.banner() + device.prompt()))
        pending, after_cr = b"", False
        while not self._stopping.is_set():
            data = channel.recv(4096)
            if not data:
                return
            for byte in data:
                if byte == 10 and after_cr:  # the LF of a CRLF: the line already ended at CR
                    after_cr = False
                    continue
                after_cr = byte == 13
                if byte not in (10, 13):
                    pending += bytes((byte,))
                    continue
                line, pending = pending.decode("utf-8", "replace"), b""
                echo = line if device.echo_input else ""  # read before the answer: it may start or end a password
                output = device.receive(line)
                if output and not output.endswith("\n") and not device.closed and device.prompt():
                    output += "\n"
                # one write per answer: the client looks for the prompt at the end of what it has read
                channel.sendall(_crlf(echo + "\n" + output + ("" if device.closed else device.prompt())))
                if device.closed:  # logged out: the session ends
                    return


def _platform_factory(platform, hostname, edge_key_file):
    """``--platform NAME``: tests/devices/NAME.py's ``DEVICE(hostname, edge_key=...)``; a device with a
    ``session`` factory (a router shared by sessions) gives one session object per connection."""
    module = importlib.import_module(f"devices.{platform}")
    edge_key = (lambda _peer: Path(edge_key_file).read_text().strip()) if edge_key_file else (lambda _peer: None)
    return _factory(module.DEVICE(hostname, edge_key=edge_key))


def _device_factory(spec):
    """``--device module:Class``: ``Class()``."""
    module_name, _colon, name = spec.partition(":")
    return _factory(getattr(importlib.import_module(module_name), name)())


def _factory(thing):
    return getattr(thing, "session", None) or (lambda: thing)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve a simulated network device's CLI over SSH.")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--platform", help="a module of tests/devices with a DEVICE class (vyos, ios_xe)")
    which.add_argument("--device", help="module:Class built without arguments, e.g. devices.ios_xe:IosXeRouter")
    parser.add_argument("--hostname", default="router1", help="with --platform")
    parser.add_argument("--edge-key-file", help="with --platform: a file holding the key the far end has in force")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", help="written with {port, pid} once listening, removed on exit")
    parser.add_argument("--refuse", action="store_true", help="close every connection (an unreachable device)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the devices package
    factory = (_platform_factory(args.platform, args.hostname, args.edge_key_file) if args.platform
               else _device_factory(args.device))
    server = SshDeviceServer(factory, args.username, args.password, host=args.host, port=args.port,
                             refuse=args.refuse).start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w", encoding="utf-8") as handle:
            json.dump({"port": server.port, "pid": os.getpid()}, handle)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(f"listening on {args.host} {server.port}", flush=True)
    stopped.wait()
    server.stop()
    if args.ready_file and os.path.exists(args.ready_file):
        os.unlink(args.ready_file)


if __name__ == "__main__":
    main()
