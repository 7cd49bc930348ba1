"""The in-process emulator: one object that owns the state, the server thread and the TLS files."""

from __future__ import annotations

import copy
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from .app import Application
from .control_api import CONTROL_PREFIX, handle_control, is_control_path
from .faults import Fault, FaultQueue
from .published import answered_tunnel
from .ratelimit import RateLimiter
from .records import RecordedRequest, RequestLog
from .seed import default_seed
from .server import AccessLog, EmulatorHTTPServer
from .state import State
from .tls import make_tls_files, server_context

API_PREFIX = "/client/v4"


class Emulator:
    """Cloudflare's Magic IPsec tunnel API on loopback. Use ``with Emulator() as emu:`` or start()/stop()."""

    def __init__(self, seed: dict[str, Any] | None = None, tls: bool = True, host: str = "127.0.0.1",
                 port: int = 0, state_dir: str | Path | None = None, ratelimit_quota: int = 1200,
                 ratelimit_window: float = 300.0, ratelimit_block: float = 300.0,
                 access_log: AccessLog | None = None, psk_generate_ipsec_id: bool | None = None):
        self._state = State(seed if seed is not None else default_seed())
        if psk_generate_ipsec_id is not None:
            self._state.psk_generate_ipsec_id = psk_generate_ipsec_id
        self.seed: dict[str, Any] = self._state.seed  # expanded: generated tunnels are listed
        self.tls = tls
        self.host = host
        self.port = port
        self._requested_state_dir = Path(state_dir) if state_dir is not None else None
        self.state_dir: Path | None = None
        self.ca_file: str | None = None
        self._log = RequestLog()
        self._faults = FaultQueue()
        self._stopping = threading.Event()
        self._limiter = RateLimiter(ratelimit_quota, ratelimit_window, ratelimit_block)
        self._app = Application(self._state, self._faults, self._limiter, self._log, self._stopping)
        self._access_log = access_log
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._own_state_dir = False

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        context = None
        if self.tls:
            if self._requested_state_dir is None:
                self.state_dir = Path(tempfile.mkdtemp(prefix="cf_emulator-"))
                self._own_state_dir = True
            else:
                self.state_dir = self._requested_state_dir
            files = make_tls_files(self.state_dir, self.host)
            self.ca_file = files.ca_file
            context = server_context(files)
        self._server = EmulatorHTTPServer(
            self.host, self.port, self._app.handle_api, self._handle_control, is_control_path,
            ssl_context=context, access_log=self._access_log)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="cf_emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes delayed requests
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._own_state_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self._own_state_dir = False

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- addresses ---------------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    @property
    def control_url(self) -> str:
        return self.root_url + CONTROL_PREFIX

    # --- seed shortcuts ----------------------------------------------------------------------
    @property
    def account_id(self) -> str:
        return self.seed["accounts"][0]["id"]

    def token(self, name: str) -> str:
        """The value of the seed token called ``name`` (e.g. ``"magic_wan_write"``)."""
        for token in self.seed.get("tokens", []):
            if token["name"] == name:
                return token["value"]
        raise KeyError(name)

    def user(self, name: str) -> dict[str, Any]:
        """The seed user called ``name`` (``email``, ``api_key``...), e.g. ``"global_key"``."""
        for user in self.seed.get("users", []):
            if user["name"] == name:
                return dict(user)
        raise KeyError(name)

    # --- inspection and scripting ------------------------------------------------------------
    def edge_psk(self, tunnel_id: str) -> str | None:
        """The key in force for the tunnel; None if none was ever generated. KeyError for an unknown tunnel
        (so a mistyped id cannot pass for "nothing was persisted")."""
        if self._state.tunnel(tunnel_id) is None:
            raise KeyError(tunnel_id)
        return self._state.edge_psk(tunnel_id)

    def bgp_md5_keys(self) -> list[str]:
        """Every tunnel's ``bgp.md5_key`` (GET answers them; a leak test can look for them)."""
        return [t["bgp"]["md5_key"] for t in self._state.all_tunnels() if (t.get("bgp") or {}).get("md5_key")]

    def generated_psks(self) -> list[str]:
        """Every key the emulator has put in an answer (validate_only and lost answers included)."""
        return self._state.generated_psks()

    def tunnel(self, tunnel_id: str, new_hc_target: bool = False) -> dict[str, Any]:
        """The tunnel as GET answers it (``new_hc_target``: as with the ``x-magic-new-hc-target: true`` header)."""
        tunnel = self._state.tunnel(tunnel_id)
        if tunnel is None:
            raise KeyError(tunnel_id)
        return answered_tunnel(tunnel, new_hc_target)

    def ipsec_id(self, tunnel_id: str) -> str:
        """The router's IKE identity for the tunnel (``fqdn_id`` if the tunnel has one): what psk_generate
        answers as ``ipsec_id`` when the ``psk_generate_ipsec_id`` switch is on."""
        return self._state.ipsec_id(self.tunnel(tunnel_id))

    def tunnels(self, account_id: str | None = None, new_hc_target: bool = False) -> list[dict[str, Any]]:
        stored = self._state.all_tunnels() if account_id is None else self._state.list_tunnels(account_id)
        return [answered_tunnel(tunnel, new_hc_target) for tunnel in stored]

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._log.snapshot()

    def clear_requests(self) -> None:
        self._log.clear()

    def push_fault(self, fault: Fault) -> None:
        self._faults.push(copy.copy(fault))

    def pending_faults(self) -> list[Fault]:
        return self._faults.pending()

    def clear_faults(self) -> None:
        self._faults.clear()

    def _handle_control(self, method: str, path: str, body: bytes):
        return handle_control(self._state, self._log, self._faults, method, path, body)
