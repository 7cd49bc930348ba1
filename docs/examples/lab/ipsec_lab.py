"""A two-namespace IPsec lab: "edge" plays Cloudflare (responder only), "router" is the customer's strongSwan.

Each side is a network namespace with one end of a veth pair and its own charon, configured by its own
strongswan.conf (STRONGSWAN_CONF) and reached through its own vici socket. charon's pid file is fixed
at /run/charon.pid, so each charon gets a private /run by a bind mount inside the namespace's own mount
namespace (which ``ip netns exec`` creates). Shared by the end-to-end test and ``make demo``.

Needs root, ``ip`` and strongSwan (charon, swanctl). ``missing_requirements()`` says what is absent.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CHARON_CANDIDATES = ("/usr/lib/ipsec/charon", "/usr/libexec/ipsec/charon", "/usr/lib/strongswan/charon")
# Everything IKEv2 with PSK needs; openssl and gcm bring DH 20 (ecp384) and AES-GCM, Cloudflare's advice.
# kernel-libipsec before kernel-netlink: ESP runs inside charon (ESP in UDP, over a TUN device), because the
# kernels this lab runs on may have XFRM without ESP; kernel-netlink still does addresses and routes.
CHARON_PLUGINS = ("random nonce aes sha1 sha2 hmac kdf gmp openssl gcm pem pkcs1 pubkey x509 "
                  "kernel-libipsec kernel-netlink socket-default vici")
PLUGIN_DIRS = ("/usr/lib/ipsec/plugins", "/usr/lib/strongswan/plugins", "/usr/libexec/ipsec/plugins")
TUN_DEVICE = "ipsec0"  # kernel-libipsec's TUN device; each charon makes its own in its namespace
# Cloudflare's documented parameters ("General parameters" of its router guides): IKE AES-GCM-16 128/256 or
# AES-CBC-256 with SHA2-256, PRF SHA2-256/384/512, DH 20, 14 or 5; ESP AES-GCM-16 or AES-CBC 128/256 with
# SHA2-256 or SHA-1, PFS 20, 14 or 5; ESN off.
EDGE_IKE_PROPOSALS = ("aes256gcm16-aes128gcm16-prfsha256-prfsha384-prfsha512-ecp384-modp2048-modp1536, "
                      "aes256-sha256-prfsha256-prfsha384-prfsha512-ecp384-modp2048-modp1536")
EDGE_ESP_PROPOSALS = ("aes256gcm16-aes128gcm16-ecp384-modp2048-modp1536-noesn, "
                      "aes256-aes128-sha256-sha1-ecp384-modp2048-modp1536-noesn, "
                      "aes256gcm16-aes128gcm16-noesn, aes256-aes128-sha256-sha1-noesn")


def find_charon():
    for path in CHARON_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return None


def find_plugin(name):
    return next((path for directory in PLUGIN_DIRS
                 if os.path.exists(path := f"{directory}/libstrongswan-{name}.so")), None)


def missing_requirements():
    """Why the lab cannot run here (a sentence), or None when it can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and charon)"
    missing = [name for name, found in (("ip (iproute2)", shutil.which("ip")),
                                        ("swanctl (strongswan-swanctl)", shutil.which("swanctl")),
                                        ("charon (strongswan-charon)", find_charon()),
                                        ("kernel-libipsec (libcharon-extra-plugins)", find_plugin("kernel-libipsec")),
                                        ("/dev/net/tun", os.path.exists("/dev/net/tun")),
                                        ("unshare/mount (util-linux)", shutil.which("mount")))
               if not found]
    if missing:
        return "missing " + ", ".join(missing) + " (tests/tools/system-deps installs them as root)"
    probe = f"cfm-probe-{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


@dataclass
class SecurityAssociation:
    """One IKE SA as ``swanctl --list-sas`` prints it."""

    name: str
    state: str
    line: str  # the header line strongSwan printed, e.g. "cloudflare-x: #1, ESTABLISHED, IKEv2, ..."
    local: str = ""
    remote: str = ""
    local_auth: str = ""
    children: tuple = ()  # the CHILD_SA lines, e.g. "cloudflare: #2, reqid 1, INSTALLED, TUNNEL-in-UDP, ..."
    packets_in: int = 0  # ESP packets its CHILD_SAs decrypted, as charon counts them
    packets_out: int = 0


_SA_HEADER = re.compile(r"^(\S+): #\d+, (\w+), IKEv\d")
_CHILD_COUNTER = re.compile(r"^(in|out)\s+\S+,\s+\d+ bytes,\s+(\d+) packets")


def parse_list_sas(text):
    """The IKE SAs in ``swanctl --list-sas`` output, with their states and how each side authenticated."""
    sas = []
    for raw in text.splitlines():
        header = _SA_HEADER.match(raw)
        if header:
            sas.append(SecurityAssociation(header.group(1), header.group(2), raw.strip()))
            continue
        if not sas:
            continue
        line = raw.strip()
        current = sas[-1]
        if line.startswith("local ") and not current.local:
            current.local = line
        elif line.startswith("remote ") and not current.remote:
            current.remote = line
        elif re.match(r"^\S+: #\d+, reqid", line):
            current.children += (line,)
        elif counter := _CHILD_COUNTER.match(line):
            direction = "packets_in" if counter.group(1) == "in" else "packets_out"
            setattr(current, direction, getattr(current, direction) + int(counter.group(2)))
    return sas


class Node:
    """One side of the lab: a namespace, its charon and the swanctl that talks to it."""

    def __init__(self, lab, role, address, peer_address, interface, charon_options=""):
        self.lab = lab
        self.role = role
        self.address = address
        self.peer_address = peer_address
        self.interface = interface
        self.charon_options = charon_options  # extra strongswan.conf lines in charon { }
        self.inner_address = None  # this side's address on the tunnel's inside link, once connect_inside() ran
        self.netns = f"{lab.prefix}-{role}"
        self.dir = lab.workdir / role
        self.run_dir = None  # set by IpsecLab.start(), under its short socket folder
        self.swanctl_dir = self.dir / "swanctl"
        self.conf_dir = self.swanctl_dir / "conf.d"
        self.log_file = self.dir / "charon.log"
        self.vici = None
        self.process = None

    def write_configs(self):
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.swanctl_dir / "swanctl.conf").write_text("include conf.d/*.conf\n")
        # esp = 2: kernel-libipsec logs each ESP packet it drops because no SA has its SPI (yet, or any more).
        (self.dir / "strongswan.conf").write_text(
            "charon {\n"
            "  load_modular = no\n"
            f"  load = {CHARON_PLUGINS}\n"
            "  install_routes = no\n"
            "  install_virtual_ip = no\n"
            "  retransmit_tries = 2\n"
            "  retransmit_timeout = 1.0\n"
            f"{self.charon_options}"
            "  plugins {\n"
            f"    vici {{\n      socket = {self.vici}\n    }}\n"
            "  }\n"
            "  syslog {\n    daemon {\n      default = -1\n    }\n  }\n"
            "  filelog {\n"
            f"    lab {{\n      path = {self.log_file}\n      default = 1\n      ike = 1\n      esp = 2\n"
            "      time_format = %H:%M:%S\n      flush_line = yes\n      append = yes\n    }\n"
            "  }\n"
            "}\n")

    def start_charon(self):
        env = dict(os.environ, STRONGSWAN_CONF=str(self.dir / "strongswan.conf"))
        # A private /run for this charon only: its pid file and nothing else differ from the host's.
        script = f'mount --bind "{self.run_dir}" /run && exec "{self.lab.charon}"'
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "sh", "-c", script], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(self.dir / "charon.stderr", "wb"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.role}: charon exited with {self.process.returncode}; "
                                   f"see {self.dir / 'charon.stderr'}")
            if self.swanctl("--version", "--daemon", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.role}: charon's vici socket did not come up")

    def stop_charon(self):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def swanctl(self, *args, check=True, timeout=60):
        command = ["swanctl", *args, "--uri", self.vici]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{self.role}: swanctl {args[0]} failed ({done.returncode}):\n"
                               f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done

    def load_all(self):
        """What a router does after its config changed: load connections and secrets into charon."""
        return self.swanctl("--load-all", "--file", str(self.swanctl_dir / "swanctl.conf"))

    def load_command(self):
        """The same as ``load_all``, as an argv for a playbook's handler."""
        return ["swanctl", "--load-all", "--file", str(self.swanctl_dir / "swanctl.conf"), "--uri", self.vici]

    def list_sas(self):
        return parse_list_sas(self.swanctl("--list-sas").stdout)

    def log(self):
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def unknown_spi_drops(self, since=0):
        """ESP packets charon dropped for want of an SA with their SPI, logged after offset ``since``."""
        return self.log()[since:].count("inbound ESP packet does not belong to an installed SA")


class IpsecLab:
    """Two namespaces joined by a veth pair, a charon in each. Use as a context manager: cleanup always runs."""

    def __init__(self, workdir, edge_address="192.0.2.1", router_address="192.0.2.2", prefix_length=24):
        self.workdir = Path(workdir)
        self.prefix = f"cfm{secrets.token_hex(3)}"
        self.prefix_length = prefix_length
        self.charon = find_charon()
        self.socket_dir = None  # short: a unix socket path must stay under 108 bytes
        self.edge = Node(self, "edge", edge_address, router_address, f"{self.prefix}e")
        # The router re-authenticates make-before-break: the new IKE and CHILD SAs are up before the old go.
        self.router = Node(self, "router", router_address, edge_address, f"{self.prefix}r",
                           charon_options="  make_before_break = yes\n")

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        self.socket_dir = Path(tempfile.mkdtemp(prefix="cfm-lab-"))
        for node in (self.edge, self.router):
            node.run_dir = self.socket_dir / node.role
            node.vici = f"unix://{node.run_dir / 'charon.vici'}"
            node.write_configs()
            _ip("netns", "add", node.netns)
            _ip("-n", node.netns, "link", "set", "lo", "up")
        _ip("link", "add", self.edge.interface, "netns", self.edge.netns,
            "type", "veth", "peer", "name", self.router.interface, "netns", self.router.netns)
        for node in (self.edge, self.router):
            _ip("-n", node.netns, "addr", "add", f"{node.address}/{self.prefix_length}", "dev", node.interface)
            _ip("-n", node.netns, "link", "set", node.interface, "up")
        for node in (self.edge, self.router):
            node.start_charon()
        return self

    def stop(self):
        for node in (self.router, self.edge):
            node.stop_charon()
        for node in (self.router, self.edge):
            subprocess.run(["ip", "netns", "del", node.netns], capture_output=True, check=False)
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def connect_inside(self, interface_address):
        """The tunnel's inside link, as a router has it on its tunnel interface: Cloudflare (the edge) holds
        ``interface_address`` (a /31 or /30), the router the other address. Each address goes on charon's TUN
        device, so the link's route sends traffic between the inside addresses through the tunnel."""
        edge = ipaddress.ip_interface(interface_address)
        other = next(host for host in edge.network.hosts() if host != edge.ip)
        for node, address in ((self.edge, edge.ip), (self.router, other)):
            node.inner_address = str(address)
            _ip("-n", node.netns, "addr", "add", f"{address}/{edge.network.prefixlen}", "dev", TUN_DEVICE)
            _ip("-n", node.netns, "link", "set", TUN_DEVICE, "up")

    def configure_edge(self, name, cloudflare_endpoint, ipsec_id, psk):
        """Make "edge" answer as Cloudflare does for one tunnel: responder only, PSK, the API's identities."""
        encoded = base64.b64encode(psk.encode()).decode("ascii")
        config = self.edge.conf_dir / "edge.conf"
        config.write_text(
            "connections {\n"
            f"  {name} {{\n"
            "    version = 2\n"
            f"    local_addrs = {self.edge.address}\n"
            f"    proposals = {EDGE_IKE_PROPOSALS}\n"
            f"    local {{\n      auth = psk\n      id = {cloudflare_endpoint}\n    }}\n"
            f"    remote {{\n      auth = psk\n      id = {ipsec_id}\n    }}\n"
            "    children {\n"
            "      magic {\n"
            "        local_ts = 0.0.0.0/0\n        remote_ts = 0.0.0.0/0\n"
            f"        esp_proposals = {EDGE_ESP_PROPOSALS}\n"
            "        replay_window = 0\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}\n"
            "secrets {\n"
            f"  ike-{name} {{\n"
            f"    id-router = {ipsec_id}\n    id-edge = {cloudflare_endpoint}\n"
            f"    secret = 0s{encoded}\n"
            "  }\n"
            "}\n")
        config.chmod(0o600)
        self.edge.load_all()

    def wait_for_state(self, node, ike_name, states=("ESTABLISHED",), timeout=30):
        """The SA of ``ike_name`` once it is in one of ``states``; None if it never got there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for sa in node.list_sas():
                if sa.name == ike_name and sa.state in states:
                    return sa
            time.sleep(0.2)
        return None

    def wait_for_child(self, node, ike_name, child_name, timeout=30):
        """The ESTABLISHED SA of ``ike_name`` once its CHILD_SA ``child_name`` is INSTALLED; None if never."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for sa in node.list_sas():
                if sa.name == ike_name and sa.state == "ESTABLISHED" and any(
                        line.startswith(f"{child_name}: ") and ", INSTALLED, " in line for line in sa.children):
                    return sa
            time.sleep(0.2)
        return None


def _ip(*args):
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
