"""A small SSH server that plays a network device's CLI, for tests that drive the vendor collections.

It speaks real SSH (paramiko's server side): password authentication, a session channel with a PTY and
an interactive shell, and exec requests. Everything a platform does lives in a ``CliDevice`` subclass:
its banner, its prompt (which may change with the mode), and the output of one command line. The
server only moves bytes: it echoes each line as a terminal would, asks the device for the output and
the next prompt, and writes both.

    with SshDeviceServer(lambda: VyosDevice("vyos1"), "vyos", "secret") as server:
        ...  # ansible_host=127.0.0.1 ansible_port=server.port

Run as its own process (for a playbook started by hand), it prints the chosen port on stdout:
    python tests/devices/sshcli.py --platform vyos --username vyos --password secret [--port N] [--refuse]
"""

from __future__ import annotations

import argparse
import importlib
import socket
import sys
import threading
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
    """A platform's CLI: subclasses answer ``handle(line)`` and say which prompt comes next."""

    def __init__(self):
        self.lines: list[str] = []  # every line received, in order, over every session

    def session_start(self) -> None:
        """A new shell session begins (a device resets its per-session state here: mode, candidate)."""

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
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


class SshDeviceServer:
    """Listens on ``host`` (port 0: the system picks; see ``.port``); each connection gets a device from
    ``device_factory`` unless the factory returns the same object each time (then the sessions share it).
    ``refuse``: the port stays open but every connection is closed before SSH starts, as a router that is
    down behind a live NAT would; set ``server.refuse`` at any time."""

    def __init__(self, device_factory, username, password, host="127.0.0.1", refuse=False):
        self.device_factory = device_factory
        self.username, self.password = username, password
        self.host = host
        self.refuse = refuse
        self.port = None
        self.devices: list[CliDevice] = []
        self._listener = None
        self._thread = None
        self._stopping = threading.Event()
        self._transports: list[paramiko.Transport] = []

    def start(self) -> SshDeviceServer:
        self._listener = socket.create_server((self.host, 0 if self.port is None else self.port))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name=f"sshcli:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(5)
        if self._listener:
            self._listener.close()
        for transport in list(self._transports):
            transport.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refuse:
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        transport = paramiko.Transport(conn)
        self._transports.append(transport)
        transport.add_server_key(_host_key())
        session = _Session(self.username, self.password)
        try:
            transport.start_server(server=session)
            channel = transport.accept(30)
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
        channel.sendall(_crlf(device.banner()) + device.prompt().encode())
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
                output = device.receive(line) if line.strip() else ""
                if output and not output.endswith("\n"):
                    output += "\n"
                echo = line.encode() + b"\r\n" + _crlf(output)
                if getattr(device, "closed", False):  # logged out: the session ends
                    channel.sendall(echo)
                    return
                # one write per answer: the client looks for the prompt at the end of what it has read
                channel.sendall(echo + device.prompt().encode())


def _platform_factory(name, hostname, edge_key_file):
    module = importlib.import_module(name)
    edge_key = (lambda: Path(edge_key_file).read_text().strip()) if edge_key_file else (lambda: None)
    device = module.DEVICE(hostname, edge_key=edge_key)
    return lambda: device


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve a simulated network device's CLI over SSH.")
    parser.add_argument("--platform", required=True, help="a module in tests/devices (e.g. vyos)")
    parser.add_argument("--hostname", default="router1")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--edge-key-file", help="a file holding the key the far end has in force")
    parser.add_argument("--refuse", action="store_true", help="close every connection (an unreachable device)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    server = SshDeviceServer(_platform_factory(args.platform, args.hostname, args.edge_key_file),
                             args.username, args.password, host=args.host, refuse=args.refuse)
    server.port = args.port or None
    server.start()
    print(server.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
