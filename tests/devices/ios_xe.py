"""A Cisco IOS XE router's CLI, as much of it as cisco.ios and the tunnel_psk role use (test equipment).

Sources (cited again where each answer is built):
- cisco.ios (the pinned ``ansible`` wheel), plugins/terminal/ios.py: the prompt shape (terminal_stdout_re),
  the error strings it treats as failures (terminal_stderr_re), on_open_shell (``terminal length 0``,
  ``terminal width 512``, ``terminal width 0``), on_become (``enable``, a ``Password:`` prompt,
  get_privilege_level's ``show privilege``).
- cisco.ios plugins/cliconf/ios.py: get_device_info (``show version`` and what it parses, then ``show vlan``
  from check_device_type), get_config (``show running-config``), edit_config (``configure terminal`` ...
  ``end``); plugins/modules/ios_config.py save_config (``copy running-config startup-config``).
- Cloudflare's IOS XE guide (cloudflare-docs, partials/networking-services/cloudflare-wan/third-party/
  cisco-ios-xe.mdx): the configuration it shows (what our running configuration looks like, the
  ``!`` separators, clear-text ``pre-shared-key``) and its ``show crypto session remote <ip> detail`` output.
- Cisco IOS XE docs: "Security Configuration Guide: FlexVPN and Internet Key Exchange Version 2"
  (configuration modes and prompts: config-ikev2-proposal, config-ikev2-policy, config-ikev2-keyring,
  config-ikev2-keyring-peer, config-ikev2-profile; ipsec-profile from "Configuring IPsec Virtual
  Tunnel Interfaces"; the keyring peer's ``description``), the Security Command Reference for
  ``show crypto session`` (session states UP-ACTIVE, DOWN-NEGOTIATING, ...) and ``clear crypto session``,
  the Fundamentals guide for ``copy running-config startup-config`` (``Destination filename
  [startup-config]?``, ``Building configuration...``, ``[OK]``) and the CLI's ``% Invalid input detected
  at '^' marker.`` answer.

Not modelled: abbreviations (``conf t``), ``?`` help, ``do``, type 6 key encryption, real IKE. A command the
grammar below does not know is answered with ``% Invalid input``, as on a router that lacks it.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass, field

from devices.sshcli import CliDevice

INVALID = "% Invalid input detected at '^' marker."


@dataclass(eq=False)
class Rule:
    """A configuration command of one mode. kind: ``section`` (opens ``mode``), ``single`` (replaces an
    earlier line with the same ``key``) or ``multi`` (one line per value)."""
    pattern: str
    kind: str
    key: str = ""
    mode: str = ""

    def match(self, text):
        return re.fullmatch(self.pattern, text)


@dataclass
class Node:
    text: str
    rule: Rule | None = None
    children: list = field(default_factory=list)


_IP = r"\d{1,3}(?:\.\d{1,3}){3}"
_NAME = r"[\w.:/-]+"

# Modes, their prompts (Cisco FlexVPN/IKEv2 configuration guide; ipsec-profile: the IPsec VTI guide) and the
# commands the role and Cloudflare's guide use, in the order IOS shows them in the running configuration.
PROMPTS = {"config": "config", "proposal": "config-ikev2-proposal", "policy": "config-ikev2-policy",
           "keyring": "config-ikev2-keyring", "peer": "config-ikev2-keyring-peer",
           "profile": "config-ikev2-profile", "ipsec": "ipsec-profile", "interface": "config-if"}
GRAMMAR = {
    "config": [
        Rule(r"hostname (\S+)", "single", "hostname"),
        Rule(rf"crypto ikev2 proposal {_NAME}", "section", mode="proposal"),
        Rule(rf"crypto ikev2 policy {_NAME}", "section", mode="policy"),
        Rule(rf"crypto ikev2 keyring {_NAME}", "section", mode="keyring"),
        Rule(rf"crypto ikev2 profile {_NAME}", "section", mode="profile"),
        Rule(r"crypto isakmp invalid-spi-recovery", "single", "crypto isakmp invalid-spi-recovery"),
        Rule(rf"crypto ipsec profile {_NAME}", "section", mode="ipsec"),
        Rule(r"interface (?:Tunnel\d+|GigabitEthernet\d+(?:/\d+)*)", "section", mode="interface"),
    ],
    "proposal": [
        Rule(r"encryption(?: (?:aes-cbc-128|aes-cbc-192|aes-cbc-256|aes-gcm-128|aes-gcm-256))+", "single",
             "encryption"),
        Rule(r"integrity(?: (?:sha1|sha256|sha384|sha512))+", "single", "integrity"),
        Rule(r"prf(?: (?:sha1|sha256|sha384|sha512))+", "single", "prf"),
        Rule(r"group(?: (?:2|5|14|15|16|19|20|21|24))+", "single", "group"),
    ],
    "policy": [
        Rule(rf"match fvrf (?:any|{_NAME})", "single", "match fvrf"),
        Rule(rf"proposal {_NAME}", "multi"),
    ],
    "keyring": [Rule(rf"peer {_NAME}", "section", mode="peer")],
    "peer": [
        Rule(r"description \S.*", "single", "description"),
        Rule(rf"address {_IP}(?: {_IP})?", "single", "address"),
        Rule(r"pre-shared-key (?:0 )?\S+", "single", "pre-shared-key"),
    ],
    "profile": [
        Rule(rf"match identity remote address {_IP} {_IP}", "multi"),
        Rule(r"identity local (?:address|fqdn|email|key-id) \S+", "single", "identity local"),
        Rule(r"authentication remote pre-share", "single", "authentication remote"),
        Rule(r"authentication local pre-share", "single", "authentication local"),
        Rule(rf"keyring local {_NAME}", "single", "keyring local"),
        Rule(r"nat force-encap", "single", "nat force-encap"),
        Rule(r"no config-exchange request", "single", "no config-exchange request"),
    ],
    "ipsec": [
        Rule(r"set security-association lifetime kilobytes disable", "single",
             "set security-association lifetime kilobytes"),
        Rule(r"set security-association replay disable", "single", "set security-association replay"),
        Rule(r"set pfs group(?:2|5|14|15|16|19|20|21|24)", "single", "set pfs"),
        Rule(rf"set ikev2-profile {_NAME}", "single", "set ikev2-profile"),
    ],
    "interface": [
        Rule(r"description \S.*", "single", "description"),
        Rule(rf"ip address (?:{_IP} {_IP}|dhcp)", "single", "ip address"),
        Rule(r"ip mtu \d+", "single", "ip mtu"),
        Rule(r"ip tcp adjust-mss \d+", "single", "ip tcp adjust-mss"),
        Rule(r"ip nat outside", "single", "ip nat outside"),
        Rule(rf"tunnel source (?:{_IP}|{_NAME})", "single", "tunnel source"),
        Rule(r"tunnel mode ipsec ipv4", "single", "tunnel mode"),
        Rule(rf"tunnel destination {_IP}", "single", "tunnel destination"),
        Rule(r"tunnel path-mtu-discovery", "single", "tunnel path-mtu-discovery"),
        Rule(rf"tunnel protection ipsec profile {_NAME}", "single", "tunnel protection"),
        Rule(r"negotiation auto", "single", "negotiation auto"),
        Rule(r"shutdown", "single", "shutdown"),
    ],
}

# show version, shaped as on a CSR1000v with 17.3 (cliconf get_device_info reads Version, "cisco <model> (...)
# (revision", "<hostname> uptime" and 'image file is "..."' from it).
SHOW_VERSION = """Cisco IOS XE Software, Version 17.03.07
Cisco IOS Software [Amsterdam], Virtual XE Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), Version 17.3.7, RELEASE SOFTWARE (fc2)
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2023 by Cisco Systems, Inc.

ROM: IOS-XE ROMMON

{hostname} uptime is 1 hour, 2 minutes
Uptime for this control processor is 1 hour, 4 minutes
System returned to ROM by reload
System image file is "bootflash:packages.conf"
Last reload reason: reload

cisco CSR1000V (VXE) processor (revision VXE) with 2071575K/3075K bytes of memory.
Processor board ID 9SIMULATED0
1 Gigabit Ethernet interface
32768K bytes of non-volatile configuration memory.

Configuration register is 0x2102
"""

# Header of show crypto session ... detail, as in Cloudflare's guide (diagnostic output).
CRYPTO_SESSION_HEADER = """Crypto session current status

Code: C - IKE Configuration mode, D - Dead Peer Detection
K - Keepalives, N - NAT-traversal, T - cTCP encapsulation
X - IKE Extended Authentication, F - IKE Fragmentation
R - IKE Auto Reconnect, U - IKE Dynamic Route Update
S - SIP VPN
"""


class IosXeRouter:
    """The router: one running configuration shared by its SSH sessions (``session`` is the device factory).

    ``edge_key(peer_address)`` says which key the far end (Cloudflare) holds for that peer; an IKEv2 session
    comes up only when the keyring peer's pre-shared-key equals it and the profile chain is complete.
    """

    def __init__(self, hostname="Router", enable_password="enable-secret", edge_key=None, config=""):
        self.hostname = hostname
        self.enable_password = enable_password
        self.edge_key = edge_key or (lambda address: None)
        self.root = Node("")
        self.startup = ""
        self.sessions: list[IosXeSession] = []
        self.established: dict[str, str] = {}   # peer address -> key its IKE SA was authenticated with
        self.lock = threading.RLock()
        if config:
            self.load(config)
        self.startup = self.running_config()

    def session(self):
        session = IosXeSession(self)
        self.sessions.append(session)
        return session

    @property
    def lines(self):
        """Every line any session received, in session order."""
        return [line for session in self.sessions for line in session.lines]

    def load(self, text):
        """Set up configuration from indented text, through the same grammar a session uses."""
        session = IosXeSession(self)
        session.path = []
        for raw in text.splitlines():
            if not raw.strip() or raw.strip() == "!":
                continue
            depth = len(raw) - len(raw.lstrip(" "))
            del session.path[depth:]
            error = session.configure(raw.strip())
            if error:
                raise ValueError(f"not IOS XE configuration: {raw!r}")

    def find(self, *texts):
        """The node at the path of ``texts`` (parents first), or None."""
        node = self.root
        for text in texts:
            node = next((child for child in node.children if child.text == text), None)
            if node is None:
                return None
        return node

    def children(self, *texts):
        """A section's lines, in the order show running-config gives them."""
        node = self.find(*texts)
        return [child.text for child in _ordered(node.children)] if node else []

    def running_config(self):
        """show running-config body: sections end with ``!``, nested sections with `` !`` (as in the guide)."""
        out = ["!", "version 17.3", "service timestamps debug datetime msec", f"hostname {self.hostname}", "!"]
        for node in _ordered(self.root.children):
            if node.rule.key == "hostname":
                continue
            out.extend(_render(node, 0))
            if node.children:
                out.append("!")
        out.extend(["!", "end"])
        return "\n".join(out) + "\n"

    # The IKEv2 session with one peer, following the chain IOS follows: tunnel interface -> IPsec profile ->
    # IKEv2 profile -> keyring -> peer.
    def session_state(self, address):
        tunnel = next((n for n in self.root.children if n.text.startswith("interface Tunnel")
                       and f"tunnel destination {address}" in _texts(n)), None)
        if tunnel is None:
            return None
        if address in self.established:
            return tunnel, "UP-ACTIVE"
        key = self._configured_key(tunnel, address)
        if key is not None and key == self.edge_key(address):
            self.established[address] = key
            return tunnel, "UP-ACTIVE"
        return tunnel, "DOWN-NEGOTIATING"

    def _configured_key(self, tunnel, address):
        if "tunnel mode ipsec ipv4" not in _texts(tunnel):
            return None
        ipsec = self.find("crypto ipsec profile " + _value(tunnel, "tunnel protection ipsec profile "))
        profile = ipsec and self.find("crypto ikev2 profile " + _value(ipsec, "set ikev2-profile "))
        needed = {f"match identity remote address {address} 255.255.255.255",
                  "authentication local pre-share", "authentication remote pre-share"}
        if not profile or not needed <= set(_texts(profile)) or not _value(profile, "identity local "):
            return None
        keyring = self.find("crypto ikev2 keyring " + _value(profile, "keyring local "))
        peer = keyring and next((p for p in keyring.children if f"address {address}" in _texts(p)), None)
        key = peer and _value(peer, "pre-shared-key ")
        return key.removeprefix("0 ") if key else None

    def local_address(self, tunnel):
        source = _value(tunnel, "tunnel source ")
        interface = self.find(f"interface {source}")
        return _value(interface, "ip address ").split(" ")[0] if interface else source


def _texts(node):
    return [child.text for child in node.children]


def _value(node, prefix):
    """The rest of the first child line of ``node`` that starts with ``prefix`` ('' when none)."""
    return next((c.text[len(prefix):] for c in (node.children if node else []) if c.text.startswith(prefix)), "")


def _ordered(nodes):
    """IOS shows lines in its own order (the grammar's), not in the order they were typed."""
    def rank(node):
        rules = [r for rules in GRAMMAR.values() for r in rules]
        return rules.index(node.rule) if node.rule in rules else len(rules)
    return sorted(nodes, key=rank)


def _render(node, depth):
    lines = [" " * depth + node.text]
    for child in _ordered(node.children):
        lines.extend(_render(child, depth + 1))
        if child.children:
            lines.append(" " * (depth + 1) + "!")
    return lines


class IosXeSession(CliDevice):
    """One SSH session: user EXEC (``Router>``), privileged EXEC (``Router#``), configuration modes."""

    def __init__(self, router):
        super().__init__()
        self.router = router
        self.level = 1
        self.path: list[Node] | None = None   # None: EXEC; [] global configuration; else the sections entered
        self._question = None                 # "enable" or "copy" while the device waits for an answer

    def banner(self):
        return "\n"

    def prompt(self):
        if self._question:
            return ""
        name = self.router.hostname
        if self.path is None:
            return name + ("#" if self.level == 15 else ">")
        mode = self.path[-1].rule.mode if self.path else "config"
        return f"{name}({PROMPTS[mode]})#"

    def handle(self, line):
        with self.router.lock:
            if self._question:
                return self._answer(line)
            text = line.strip()
            if not text:
                return ""
            if self.path is not None:
                return self._config_line(text)
            return self._exec(text)

    def _invalid(self, position=0):
        return " " * (len(self.prompt()) + position) + "^\n" + INVALID + "\n"

    # --- EXEC -------------------------------------------------------------------------------------------
    def _exec(self, text):
        command, _bar, pipe = text.partition(" | ")
        user_commands = {"enable": self._enable, "show version": self._show_version,
                         "show privilege": self._show_privilege, "exit": self._exit, "logout": self._exit}
        if command in user_commands:
            return user_commands[command]()
        if re.fullmatch(r"terminal (?:length|width) \d+", command):
            # on_open_shell sends these; the width range is 0-512 (IOS command reference, terminal width).
            return "" if int(command.split()[-1]) <= 512 or "length" in command else self._invalid(15)
        if self.level < 15:
            return self._invalid()
        if command == "disable":
            self.level = 1
            return ""
        if command == "configure terminal":
            self.path = []
            return "Enter configuration commands, one per line.  End with CNTL/Z.\n"
        if command in ("show running-config", "show startup-config"):
            body = self.router.running_config() if command.endswith("running-config") else self.router.startup
            if command.endswith("running-config"):
                body = f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n" + body
            else:
                body = f"Using {len(body)} out of 33554432 bytes\n" + body
            return _filter(body, pipe) if pipe else body
        if command == "copy running-config startup-config":
            self._question = "copy"
            return "Destination filename [startup-config]? "
        match = re.fullmatch(rf"show crypto session(?: remote ({_IP}))? detail", command)
        if match:
            return self._show_crypto_session(match.group(1))
        match = re.fullmatch(rf"clear crypto session(?: remote ({_IP}))?", command)
        if match:
            for address in [a for a in self.router.established if match.group(1) in (None, a)]:
                del self.router.established[address]
            return ""
        return self._invalid()

    def _enable(self):
        if self.level == 15:
            return ""
        self._question = "enable"
        self.echo_input = False
        return "Password: "

    def _answer(self, line):
        question, self._question = self._question, None
        if question == "enable":
            self.echo_input = True
            if line == self.router.enable_password:
                self.level = 15
                return ""
            return "% Bad secrets\n"
        if line.strip() not in ("", "startup-config"):
            return "%Error opening " + line.strip() + " (Invalid argument)\n"
        self.router.startup = self.router.running_config()
        return "Building configuration...\n[OK]\n"

    def _exit(self):
        self.closed = True
        return ""

    def _show_version(self):
        return SHOW_VERSION.format(hostname=self.router.hostname)

    def _show_privilege(self):
        # terminal/ios.py get_privilege_level: "Current privilege level is (\d+)$"
        return f"Current privilege level is {self.level}\n"

    def _show_crypto_session(self, address):
        out = [CRYPTO_SESSION_HEADER]
        tunnels = [n for n in self.router.root.children if n.text.startswith("interface Tunnel")]
        addresses = [address] if address else [_value(n, "tunnel destination ") for n in tunnels]
        for peer in filter(None, addresses):
            state = self.router.session_state(peer)
            if state is None:
                continue
            tunnel, status = state
            profile = _value(tunnel, "tunnel protection ipsec profile ")
            out.append(f"Interface: {tunnel.text.split()[1]}\nProfile: {profile}\nUptime: 00:00:12\n"
                       f"Session status: {status}\nPeer: {peer} port 500 fvrf: (none) ivrf: (none)\n"
                       f"      Phase1_id: {peer}\n      Desc: (none)")
            if status == "UP-ACTIVE":
                local = self.router.local_address(tunnel)
                out.append(f"  Session ID: 1\n  IKEv2 SA: local {local}/500 remote {peer}/500 Active\n"
                           "          Capabilities:(none) connid:1 lifetime:23:59:48\n"
                           "  IPSEC FLOW: permit ip 0.0.0.0/0.0.0.0 0.0.0.0/0.0.0.0\n"
                           "        Active SAs: 2, origin: crypto map\n"
                           "        Inbound:  #pkts dec'ed 0 drop 0 life (KB/Sec) KB Vol Rekey Disabled/3587\n"
                           "        Outbound: #pkts enc'ed 0 drop 0 life (KB/Sec) KB Vol Rekey Disabled/3587")
            out.append("")
        return "\n".join(out) + "\n"

    # --- configuration --------------------------------------------------------------------------------
    def _config_line(self, text):
        if text == "end":
            self.path = None
            return ""
        if text == "exit":
            self.path = self.path[:-1] if self.path else None
            return ""
        return self.configure(text) or ""

    def configure(self, text):
        """Apply one configuration line in the current mode, or in an enclosing one (IOS leaves a sub-mode
        for a command of its parent); return the error answer, or None."""
        negate = text.startswith("no ") and text != "no config-exchange request"
        command = text[3:] if negate else text
        for depth in range(len(self.path), -1, -1):
            parent = self.path[depth - 1] if depth else self.router.root
            mode = parent.rule.mode if depth else "config"
            rule = next((r for r in GRAMMAR[mode] if r.match(command)), None)
            if rule is None:
                continue
            error = _check_values(command)
            if error:
                return error
            del self.path[depth:]
            if rule.key == "hostname" and not negate:
                self.router.hostname = command.split()[1]
                return None
            if negate:
                parent.children = [c for c in parent.children if not _same_line(c, rule, command)]
                return None
            if rule.kind == "section":
                node = next((c for c in parent.children if c.text == command), None)
                if node is None:
                    node = Node(command, rule)
                    parent.children.append(node)
                self.path.append(node)
                return None
            parent.children = [c for c in parent.children if not _same_line(c, rule, command)]
            parent.children.append(Node(command, rule))
            return None
        return self._invalid()


def _same_line(node, rule, command):
    if rule.kind == "single":
        return node.rule is rule
    return node.text == command


def _check_values(command):
    """Addresses and masks as IOS checks them ("Bad mask" is one of terminal_stderr_re's errors)."""
    match = re.fullmatch(rf"ip address ({_IP}) ({_IP})", command)
    try:
        for address in re.findall(_IP, command):
            ipaddress.IPv4Address(address)
        if match:
            ipaddress.IPv4Network(f"0.0.0.0/{match.group(2)}")
    except ValueError:
        if match:
            return f"Bad mask {match.group(2)} for address {match.group(1)}\n"
        return INVALID + "\n"
    return None


def _filter(body, pipe):
    """``| include``, ``| exclude`` and ``| section`` with a regular expression (the rest of the line)."""
    how, _space, expression = pipe.partition(" ")
    try:
        pattern = re.compile(expression)
    except re.error:
        return INVALID + "\n"
    lines = body.splitlines()
    if how == "include":
        return "\n".join(line for line in lines if pattern.search(line)) + "\n"
    if how == "exclude":
        return "\n".join(line for line in lines if not pattern.search(line)) + "\n"
    if how == "section":
        out, keep_below = [], None
        for line in lines:
            depth = len(line) - len(line.lstrip(" "))
            if keep_below is not None and depth > keep_below:
                out.append(line)
                continue
            keep_below = depth if pattern.search(line) and line.strip() != "!" else None
            if keep_below is not None:
                out.append(line)
        return "\n".join(out) + "\n"
    return INVALID + "\n"


DEVICE = IosXeRouter  # what sshcli.py --platform ios_xe builds
