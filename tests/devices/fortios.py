"""A FortiGate's REST API (FortiOS 7.0), as fortinet.fortios's httpapi plugin and modules use it.

An HTTPS server on loopback that holds the objects the tunnel_psk role writes (``vpn.ipsec/phase1-interface``,
``vpn.ipsec/phase2-interface``, ``system/interface``) and answers as FortiOS does. Where each answer comes from
(fortinet.fortios is the collection bundled in the pinned ``ansible`` wheel; tests/devices/README.md has the table):
- Login. ``GET /api/v2/monitor/system/status`` with ``Authorization: Bearer <token>`` checks an API token
  (plugins/httpapi/fortios.py ``login``: a 401 is "Invalid access token"); the answer carries ``version``
  (``update_system_version`` reads it; the modules compare it with their schema's ranges) in the monitor
  envelope recorded by prometheus-community/fortigate_exporter (pkg/probe/testdata/status.jsonnet).
  ``POST /api/v2/authentication`` with ``username``/``secretkey`` answers ``LOGIN_SUCCESS`` and a
  ``session_key`` (``login``), used as a Bearer token after it; ``DELETE /api/v2/authentication`` logs out
  (``logout``), and ``POST /logout`` when the plugin did not log in by the API (a token); a refused login is
  a 401, after which the plugin tries ``POST /logincheck``, answered ``0``.
  A token from the inventory (``ansible_httpapi_session_key: {access_token: ...}``, ``get_access_token``) is
  sent the same way. A wrong token or session: 401 with FortiOS's error envelope.
- CMDB. ``GET/PUT/POST/DELETE /api/v2/cmdb/<path>/<name>[/<mkey>]?vdom=<vdom>``: module_utils/fortios/fortios.py
  ``FortiOSHandler.cmdb_url``, ``set`` (GET, then PUT when it answered 200, else POST), ``get``; a GET answers
  ``results`` as a list; ``format=a|b`` keeps only those fields (fortios_configuration_fact ``formatters``).
  A write answers ``status: success`` with ``revision_changed`` (what fortios_vpn_ipsec reads for
  ``changed``). A missing object: 404 with ``error: -3`` ("Object not found", ``fortios_error_codes`` of
  module_utils/fortios/fortios.py). An unknown field or a value FortiOS refuses: 500 with ``error: -651`` and a
  ``cli_error`` line (the shape in fortinetdev/terraform-provider-fortios issue #173). A vdom the device does
  not have: 403 with the envelope of fortinet-ansible-dev/ansible-galaxy-fortios-collection issue #345.
- Stored keys. A GET shows ``psksecret`` as ``ENC <base64>``, never the key (FortiOS CLI reference,
  ``psksecret {password-3}``); the key itself stays inside the simulator.
- Fields and limits: FortiOS 7.0 CLI reference, ``config vpn ipsec phase1-interface`` / ``phase2-interface``
  / ``system interface`` (names up to 15 characters, ``comments`` up to 255, psksecret 6 to 128).
  Creating a phase1-interface creates its tunnel interface of the same name (FortiOS IPsec VPN guide,
  route-based VPN: "a virtual IPsec interface"); a tunnel interface cannot be created on its own.
- Monitor. ``GET /api/v2/monitor/vpn/ipsec[?tunnel=<name>]``: per phase1-interface ``name``, ``comments``,
  ``rgwy`` and ``proxyid`` (one per phase2: ``p2name``, ``status`` up or down), the answer recorded by
  prometheus-community/fortigate_exporter (pkg/probe/testdata, ``api/v2/monitor/vpn/ipsec``); selector
  ``vpn_ipsec`` of fortios_monitor_fact. ``POST /api/v2/monitor/vpn/ipsec/tunnel_down`` and ``tunnel_up``
  with ``p1name``/``p2name``: fortios_monitor selectors ``tunnel_down.vpn.ipsec`` / ``tunnel_up.vpn.ipsec``.
- IKE. The SA with Cloudflare comes up when the tunnel is complete (phase1 IKEv2 with a remote-gw and a
  psksecret, a phase2 naming it with auto-negotiate) and the psksecret equals ``edge_key(remote_gw)``, the key
  the far end (the emulator) holds. As in IKEv2, an SA that is up stays up when the key changes (the key is
  checked only when the SA is authenticated) until ``tunnel_down``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import ipaddress
import json
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))

from cf_emulator.tls import make_tls_files, server_context  # noqa: E402

VERSION, BUILD, SERIAL = "v7.0.12", 523, "FGVM02TM00000000"

# The fields the simulator accepts per table: a set of choices, int, "str:<max length>", "addr" (an IPv4
# address), "ip" (address and mask), ("list", choices) (FortiOS's space-separated lists), "secret". Anything
# else is a field FortiOS does not know.
_PROPOSALS1 = {"aes128-sha256", "aes256-sha256", "aes128gcm-prfsha256", "aes256gcm-prfsha256",
               "aes256gcm-prfsha384", "aes256gcm-prfsha512", "aes128gcm-prfsha384", "aes128gcm-prfsha512"}
_PROPOSALS2 = {"aes128-sha256", "aes256-sha256", "aes128gcm", "aes256gcm", "chacha20poly1305"}
_DH = {"1", "2", "5", "14", "15", "16", "19", "20", "21", "27", "28", "29", "30", "31", "32"}
_ON_OFF = {"enable", "disable"}
SCHEMA = {
    "vpn.ipsec/phase1-interface": {
        "name": "str:15", "type": {"static", "dynamic", "ddns"}, "interface": "str:35", "ike-version": {"1", "2"},
        "remote-gw": "addr", "authmethod": {"psk", "signature"}, "psksecret": "secret", "peertype": {"any", "one"},
        "localid": "str:63", "localid-type": {"auto", "fqdn", "user-fqdn", "keyid", "address"},
        "proposal": ("list", _PROPOSALS1), "dhgrp": ("list", _DH), "keylife": "int", "net-device": _ON_OFF,
        "add-gw-route": _ON_OFF, "nattraversal": {"enable", "disable", "forced"}, "comments": "str:255",
        "mode-cfg": _ON_OFF, "auto-negotiate": _ON_OFF, "dpd": {"disable", "on-idle", "on-demand"},
    },
    "vpn.ipsec/phase2-interface": {
        "name": "str:35", "phase1name": "str:15", "proposal": ("list", _PROPOSALS2), "dhgrp": ("list", _DH),
        "pfs": _ON_OFF, "replay": _ON_OFF, "keylifeseconds": "int", "auto-negotiate": _ON_OFF,
        "keepalive": _ON_OFF, "src-subnet": "ip", "dst-subnet": "ip", "comments": "str:255",
    },
    "system/interface": {
        "name": "str:15", "vdom": "str:31", "type": {"physical", "tunnel", "vlan", "loopback"}, "ip": "ip",
        "remote-ip": "ip", "interface": "str:35", "mtu-override": _ON_OFF, "mtu": "int",
        "allowaccess": "str:255", "description": "str:255", "alias": "str:25", "tcp-mss": "int",
    },
}


class ApiError(Exception):
    def __init__(self, http_status, error=None, cli_error=None):
        super().__init__(http_status)
        self.http_status, self.error, self.cli_error = http_status, error, cli_error


def _mask_form(value: str) -> str:
    """``a.b.c.d/n`` or ``a.b.c.d m.m.m.m`` as FortiOS stores it: address and dotted mask."""
    text = value.replace("/", " ").split()
    if len(text) == 1:
        text.append("32")
    address, mask = text[0], text[1]
    network = ipaddress.ip_network(f"0.0.0.0/{mask}")  # a prefix length or a dotted mask; ValueError if neither
    return f"{ipaddress.ip_address(address)} {network.netmask}"


class FortiGate:
    """The device: its configuration per vdom, its IKE SAs, the requests it got, and its credentials.

    ``edge_key(remote_gw)`` is the key the far end holds for that gateway (None: nothing answers there).
    ``on_negotiation`` (optional) is called each time the device negotiates an SA (a test's hook).
    """

    def __init__(self, token, username="admin", password=None, vdoms=("root",), edge_key=None, hostname="FGT-CF"):
        self.token, self.username, self.password = token, username, password
        self.hostname = hostname
        self.vdoms = set(vdoms)
        self.edge_key = edge_key or (lambda remote_gw: None)
        self.on_negotiation = None
        self.config = {vdom: {table: {} for table in SCHEMA} for vdom in self.vdoms}
        self.established: dict[str, str] = {}     # phase1 name -> the key its SA was authenticated with
        self.requests: list[tuple[str, str]] = []  # (method, path and query) of every request
        self.sessions: set[str] = set()
        self.revision = 1
        self.lock = threading.Lock()
        self._enc_salt = secrets.token_bytes(16)

    # --- what tests read ------------------------------------------------------------------------
    def phase1(self, name, vdom="root") -> dict:
        return self.config[vdom]["vpn.ipsec/phase1-interface"].get(name, {})

    def phase2(self, name, vdom="root") -> dict:
        return self.config[vdom]["vpn.ipsec/phase2-interface"].get(name, {})

    def interface(self, name, vdom="root") -> dict:
        return self.config[vdom]["system/interface"].get(name, {})

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] in ("PUT", "POST", "DELETE") and "/cmdb/" in r[1]]

    def load(self, table, obj, vdom="root"):
        """Put an object in place as an earlier configuration left it (a test's set-up)."""
        with self.lock:
            self._write(vdom, table, obj["name"], dict(obj), create=True)

    # --- the API ----------------------------------------------------------------------------------
    def answer(self, method, target, headers, body) -> tuple[int, dict | str]:
        parts = urlsplit(target)
        path, query = unquote(parts.path), {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((method, target))
            try:
                return self._route(method, path, query, headers, body)
            except ApiError as err:
                return err.http_status, self._envelope(method, path, query, err)

    def _route(self, method, path, query, headers, body):
        if path == "/api/v2/authentication" and method == "POST":
            return self._login(body)
        if path == "/logincheck" and method == "POST":
            return 200, "0"
        if not self._authorised(headers):
            raise ApiError(401)
        if path == "/api/v2/authentication" and method == "DELETE":
            self.sessions.discard(_bearer(headers))
            return 200, {"status": "success", "http_status": 200}
        if path == "/logout" and method == "POST":  # the plugin's logout when it did not log in by the API
            return 200, ""
        vdom = query.get("vdom", "root")
        if vdom not in self.vdoms:
            raise ApiError(403)
        if path == "/api/v2/monitor/system/status" and method == "GET":
            return 200, self._ok("GET", "system", "status", vdom, results={
                "model_name": "FortiGate", "model_number": "VM64", "model": "FGVM64", "hostname": self.hostname})
        if path == "/api/v2/monitor/vpn/ipsec" and method == "GET":
            return 200, self._ok("GET", "vpn", "ipsec", vdom, results=self._ipsec_status(vdom, query.get("tunnel")))
        if path in ("/api/v2/monitor/vpn/ipsec/tunnel_down", "/api/v2/monitor/vpn/ipsec/tunnel_up") \
                and method == "POST":
            return self._tunnel_up_down(path.rsplit("_", 1)[1], vdom, _json(body))
        if path.startswith("/api/v2/cmdb/"):
            return self._cmdb(method, path[len("/api/v2/cmdb/"):], query, vdom, body)
        raise ApiError(404)

    def _login(self, body):
        sent = _json(body)
        if self.password is None or sent.get("username") != self.username or sent.get("secretkey") != self.password:
            return 401, {"status_code": 0, "status_message": "LOGIN_FAILED"}
        session = secrets.token_hex(16)
        self.sessions.add(session)
        return 200, {"status_code": 5, "status_message": "LOGIN_SUCCESS", "session_key": session}

    def _authorised(self, headers):
        offered = _bearer(headers) or headers.get("access_token", "")
        return bool(offered) and (offered == self.token or offered in self.sessions)

    def _cmdb(self, method, rest, query, vdom, body):
        segments = rest.split("/")
        if len(segments) < 2 or f"{segments[0]}/{segments[1]}" not in SCHEMA:
            raise ApiError(404, -3)
        table, mkey = f"{segments[0]}/{segments[1]}", unquote(segments[2]) if len(segments) > 2 else None
        path, name = segments[0], segments[1]
        objects = self.config[vdom][table]
        if method == "GET":
            if mkey is not None and mkey not in objects:
                raise ApiError(404, -3)
            found = [objects[mkey]] if mkey is not None else list(objects.values())
            fields = query["format"].split("|") if query.get("format") else None
            return 200, self._ok("GET", path, name, vdom, mkey=mkey,
                                 results=[self._shown(obj, fields) for obj in found])
        if method == "DELETE":
            if objects.pop(mkey, None) is None:
                raise ApiError(404, -3)
            self.revision += 1
            return 200, self._ok("DELETE", path, name, vdom, mkey=mkey, revision_changed=True)
        data = _json(body)
        if method == "PUT":
            if mkey is None or mkey not in objects:
                raise ApiError(404, -3)
            changed = self._write(vdom, table, mkey, data, create=False)
        elif method == "POST":
            mkey = data.get("name")
            if not mkey or mkey in objects:
                raise ApiError(500, -5, "entry already exists" if mkey else "name: missing")
            if table == "system/interface":
                raise ApiError(500, -651, "a tunnel interface comes with its phase1-interface")
            changed = self._write(vdom, table, mkey, data, create=True)
        else:
            raise ApiError(405)
        return 200, self._ok(method, path, name, vdom, mkey=mkey, revision_changed=changed)

    def _write(self, vdom, table, mkey, data, create):
        """Validate every field first (FortiOS applies all of a request or none), then store. True if changed."""
        schema = SCHEMA[table]
        clean = {}
        for field, value in data.items():
            if field not in schema:
                raise ApiError(500, -651, f"command parse error before '{field}'")
            clean[field] = _checked(field, schema[field], value)
        if clean.get("name", mkey) != mkey:
            raise ApiError(500, -651, "name cannot be changed")
        objects = self.config[vdom][table]
        before = dict(objects.get(mkey, {}))
        after = {**before, **clean, "name": mkey}
        objects[mkey] = after
        if create and table == "vpn.ipsec/phase1-interface":
            self.config[vdom]["system/interface"].setdefault(mkey, {
                "name": mkey, "vdom": vdom, "type": "tunnel", "interface": after.get("interface", ""),
                "ip": "0.0.0.0 0.0.0.0", "remote-ip": "0.0.0.0 0.0.0.0"})
        changed = after != before
        self.revision += changed
        return changed

    def _shown(self, obj, fields):
        shown = {k: (self._enc(v) if SCHEMA_KIND.get(k) == "secret" else v) for k, v in obj.items()}
        return {k: v for k, v in shown.items() if fields is None or k in fields}

    def _enc(self, key):
        return "ENC " + base64.b64encode(hashlib.sha256(self._enc_salt + key.encode()).digest()).decode()

    # --- IKE -------------------------------------------------------------------------------------
    def _ipsec_status(self, vdom, tunnel):
        phase1s = self.config[vdom]["vpn.ipsec/phase1-interface"]
        answer = []
        for name, p1 in phase1s.items():
            if tunnel and name != tunnel:
                continue
            p2s = [p2 for p2 in self.config[vdom]["vpn.ipsec/phase2-interface"].values()
                   if p2.get("phase1name") == name]
            if name not in self.established and any(p2.get("auto-negotiate") == "enable" for p2 in p2s):
                self._negotiate(vdom, name)
            up = self.established.get(name) is not None
            answer.append({"name": name, "comments": p1.get("comments", ""), "rgwy": p1.get("remote-gw", ""),
                           "type": "automatic", "wizard-type": "custom", "incoming_bytes": 0, "outgoing_bytes": 0,
                           "proxyid": [{"p2name": p2["name"], "p2serial": 1, "status": "up" if up else "down",
                                        "proxy_src": [{"subnet": "0.0.0.0/0.0.0.0", "port": 0, "protocol": 0}],
                                        "proxy_dst": [{"subnet": "0.0.0.0/0.0.0.0", "port": 0, "protocol": 0}]}
                                       for p2 in p2s]})
        return answer

    def _negotiate(self, vdom, name):
        if self.on_negotiation:
            self.lock.release()  # the hook may write the device, as another run would
            try:
                self.on_negotiation()
            finally:
                self.lock.acquire()
        p1 = self.config[vdom]["vpn.ipsec/phase1-interface"].get(name, {})
        key = p1.get("psksecret")
        complete = p1.get("ike-version") == "2" and p1.get("remote-gw") and key
        far_end = self.edge_key(p1.get("remote-gw")) if complete else None
        if complete and far_end is not None and far_end == key:
            self.established[name] = key
        else:
            self.established.pop(name, None)

    def _tunnel_up_down(self, direction, vdom, data):
        name = data.get("p1name")
        if name not in self.config[vdom]["vpn.ipsec/phase1-interface"]:
            raise ApiError(404, -3)
        self.established.pop(name, None)
        if direction == "up":
            self._negotiate(vdom, name)
        return 200, self._ok("POST", "vpn", f"ipsec/tunnel_{direction}", vdom)

    # --- envelopes --------------------------------------------------------------------------------
    def _ok(self, method, path, name, vdom, mkey=None, results=None, revision_changed=None):
        body = {"http_method": method, "vdom": vdom, "path": path, "name": name, "status": "success",
                "http_status": 200, "serial": SERIAL, "version": VERSION, "build": BUILD}
        if mkey is not None:
            body["mkey"] = mkey
        if results is not None:
            body["results"] = results
        if revision_changed is not None:
            body.update(revision=str(self.revision), revision_changed=revision_changed)
        return body

    def _envelope(self, method, path, query, err):
        body = {"http_method": method, "status": "error", "http_status": err.http_status,
                "vdom": query.get("vdom", "root"), "path": path, "serial": SERIAL, "version": VERSION, "build": BUILD}
        if err.error is not None:
            body["error"] = err.error
        if err.cli_error:
            body["cli_error"] = f"{err.cli_error}\nCommand fail. Return code {err.error}"
        return body


SCHEMA_KIND = {field: kind for table in SCHEMA.values() for field, kind in table.items()}


def _checked(field, kind, value):
    refused = ApiError(500, -651, f"value parse error before '{value}'")
    if kind == "secret":
        if not isinstance(value, str) or not 6 <= len(value) <= 128:
            raise ApiError(500, -651, f"{field}: invalid length")  # never the value: it is the key
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
            raise refused
        return int(value)
    if kind == "addr":
        try:
            return str(ipaddress.IPv4Address(str(value)))
        except ValueError:
            raise refused from None
    if kind == "ip":
        try:
            return _mask_form(str(value))
        except ValueError:
            raise refused from None
    if isinstance(kind, str) and kind.startswith("str:"):
        if not isinstance(value, str) or len(value) > int(kind[4:]):
            raise ApiError(500, -651, f"{field}: the string is longer than {kind[4:]}")
        return value
    if isinstance(kind, tuple):
        words = str(value).split()
        if not words or any(w not in kind[1] for w in words):
            raise refused
        return " ".join(words)
    if value not in kind:
        raise refused
    return value


def _json(body):
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise ApiError(400) from None
    if not isinstance(data, dict):
        raise ApiError(400)
    return data


def _bearer(headers):
    value = headers.get("Authorization", "")
    return value[len("Bearer "):] if value.startswith("Bearer ") else ""


class FortiGateServer:
    """The device behind HTTPS on loopback (its own throw-away CA: ``ca_file``). ``refuse``: every connection
    is closed before TLS, as a firewall that is down behind a live NAT."""

    def __init__(self, device, state_dir, host="127.0.0.1", port=0, refuse=False):
        self.device, self.refuse = device, refuse
        files = make_tls_files(state_dir, host)
        self.ca_file = files.ca_file
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = outer.device.answer(self.command, self.path, self.headers, body)
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(answer, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address):
                return not outer.refuse

            def get_request(self):
                sock, address = self.socket.accept()
                if outer.refuse:
                    return sock, address
                return context.wrap_socket(sock, server_side=True), address

        context = server_context(files)
        self._server = Server((host, port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def main(argv=None):
    """Its own process, for a playbook started by hand: prints ``listening on HOST PORT`` and the CA file."""
    parser = argparse.ArgumentParser(description="Serve a simulated FortiGate REST API over HTTPS.")
    parser.add_argument("--token", required=True, help="the API token the device accepts")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password")
    parser.add_argument("--edge-key-file", help="a file holding the key the far end has in force")
    parser.add_argument("--state-dir", required=True, help="where the TLS files are written")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    def edge_key(_remote_gw):
        if not args.edge_key_file or not os.path.exists(args.edge_key_file):
            return None
        return Path(args.edge_key_file).read_text(encoding="utf-8").strip() or None

    server = FortiGateServer(FortiGate(args.token, args.username, args.password, edge_key=edge_key),
                             args.state_dir, port=args.port).start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(f"listening on 127.0.0.1 {server.port} (CA {server.ca_file})", flush=True)
    stopped.wait()
    server.stop()


if __name__ == "__main__":
    main()
