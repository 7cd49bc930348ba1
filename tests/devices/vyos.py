"""A VyOS 1.4 router's CLI, as vyos.vyos's terminal and cliconf plugins and the tunnel_psk role use it.

Where each answer comes from (vyos.vyos is the collection bundled in the pinned ``ansible`` wheel):
- Prompts. Operational ``vyos@<host>:~$ `` and configuration ``[edit]`` + ``vyos@<host># ``: VyOS
  documentation, docs/cli.rst (the CLI page: ``vyos@vyos:~$ configure`` / ``[edit]`` / ``vyos@vyos#``); they
  are what plugins/terminal/vyos.py ``terminal_stdout_re`` matches (``\\@[\\w\\-\\.]+:\\S+?[>#\\$] ?$`` and
  ``...(?:>|#) ?$``) and what plugins/cliconf/vyos.py ``set_cli_prompt_context`` calls config mode (``#``).
- Errors. ``Invalid command:``, ``Set failed``, ``Delete failed``, ``Commit failed``: the four patterns of
  plugins/terminal/vyos.py ``terminal_stderr_re``; the ``Configuration path: [...] is not valid`` line before
  ``Set failed`` is VyOS's own wording (docs/cli.rst, "Set failed" example).
- ``set terminal length 0`` / ``width 512`` / ``length 10000``: terminal plugin ``on_open_shell``; no output.
- ``show version`` (``Version:`` and ``Hardware model:`` lines) and ``show host name``: cliconf
  ``get_device_info`` parses exactly these; layout from VyOS docs, docs/cli.rst / "show version".
- ``show configuration commands``: cliconf ``get_config``; one ``set`` line per leaf, values in single quotes
  (VyOS docs, configuration overview, "show configuration commands"); ``| match`` / ``| grep`` keep the
  lines that contain the pattern (VyOS op-mode pipes).
- ``configure``, ``compare``, ``commit [comment "..."]``, ``exit``, ``exit discard``: cliconf ``edit_config``,
  ``commit``, ``discard_changes``; ``compare`` answers ``No changes ...`` when nothing changed (edit_config
  tests ``startswith("No changes")``), else the changed lines under ``[edit <path>]`` headers with ``-``/``+``.
  ``exit`` with uncommitted changes refuses (VyOS: "Cannot exit: configuration modified").
- ``compare saved`` and ``save``: plugins/modules/vyos_config.py ``main`` (``save: true``) accepts exactly
  ``[edit]`` or ``No changes between working and saved configurations.\\n\\n[edit]`` as "nothing to save";
  ``save`` prints VyOS's ``Saving configuration to '/config/config.boot'...`` / ``Done``.
- The 1.4 IPsec syntax the schema below accepts (``authentication psk <name> id|secret``, peer ``local-id``,
  ``remote-id``, ``remote-address``, ``disable-mobike``, ``close-action`` in the ike-group, ``vti bind``):
  VyOS docs, docs/configuration/vpn/site2site_ipsec.rst (1.4 IKEv2 example and "Key Parameters").
- ``show vpn ike sa``: vyos-1x (the 1.4 op mode), src/op_mode/vpn_ike_sa.py ``ike_sa``: per IKE SA the
  ``Peer ID / IP`` / ``Local ID / IP`` header, then ``State IKEVer Encrypt Hash D-H Group NAT-T A-Time L-Time``,
  where A-Time is vici's ``established`` (seconds since the SA came up). An IKE SA is negotiated when none is
  up and the peer's committed secret equals ``edge_key(remote_address)`` (the key the far end, the emulator,
  has in force); it then stays up, with its age, until it is reset: a commit does not renegotiate it (VyOS
  loads the new secret for the next negotiation), so an SA made with the old key outlives a key change.
- ``reset vpn ipsec site-to-site peer <name>``: vyos-1x op-mode-definitions/vpn-ipsec.xml.in (1.4) runs
  src/op_mode/ipsec.py ``reset_peer``: terminates the peer's SAs (``Peer <name> terminate result: success``,
  or the warning that none were initiated) and initiates them again when ``connection-type`` is ``initiate``.
"""

from __future__ import annotations

import re
import shlex
import time

from devices.sshcli import CliDevice

# Leaves without a value (present or absent), and leaves that hold a list of values.
VALUELESS = {"disable-route-autoinstall", "disable-mobike", "ikev2-reauth", "force-udp-encapsulation", "compression"}
MULTI_VALUE = {("vpn", "ipsec", "authentication", "psk", "*", "id"), ("interfaces", "vti", "*", "address"),
               ("vpn", "ipsec", "interface")}

# The configuration paths this router accepts ("*" = a tag node's name), each ending in its leaf.
_SCHEMA = [p.split() for p in """
vpn ipsec authentication psk * id
vpn ipsec authentication psk * secret
vpn ipsec esp-group * compression
vpn ipsec esp-group * lifetime
vpn ipsec esp-group * mode
vpn ipsec esp-group * pfs
vpn ipsec esp-group * proposal * encryption
vpn ipsec esp-group * proposal * hash
vpn ipsec ike-group * close-action
vpn ipsec ike-group * dead-peer-detection action
vpn ipsec ike-group * dead-peer-detection interval
vpn ipsec ike-group * dead-peer-detection timeout
vpn ipsec ike-group * disable-mobike
vpn ipsec ike-group * ikev2-reauth
vpn ipsec ike-group * key-exchange
vpn ipsec ike-group * lifetime
vpn ipsec ike-group * proposal * dh-group
vpn ipsec ike-group * proposal * encryption
vpn ipsec ike-group * proposal * hash
vpn ipsec ike-group * proposal * prf
vpn ipsec interface
vpn ipsec options disable-route-autoinstall
vpn ipsec site-to-site peer * authentication local-id
vpn ipsec site-to-site peer * authentication mode
vpn ipsec site-to-site peer * authentication remote-id
vpn ipsec site-to-site peer * connection-type
vpn ipsec site-to-site peer * default-esp-group
vpn ipsec site-to-site peer * description
vpn ipsec site-to-site peer * force-udp-encapsulation
vpn ipsec site-to-site peer * ike-group
vpn ipsec site-to-site peer * local-address
vpn ipsec site-to-site peer * remote-address
vpn ipsec site-to-site peer * vti bind
vpn ipsec site-to-site peer * vti esp-group
interfaces vti * address
interfaces vti * description
interfaces vti * mtu
interfaces ethernet * address
system host-name
""".strip().splitlines()]
_CHOICES = {"key-exchange": {"ikev1", "ikev2"}, "connection-type": {"initiate", "respond", "none"},
            "mode": {"pre-shared-secret", "x509", "rsa", "tunnel", "transport"},
            "close-action": {"none", "trap", "start"}, "action": {"hold", "clear", "trap", "restart"}}


def _matches(pattern, path):
    return len(pattern) == len(path) and all(p in ("*", t) for p, t in zip(pattern, path))


def _is_multi(path):
    return any(_matches(m, path) for m in MULTI_VALUE)


def render(line):
    """A stored line as ``show configuration commands`` prints it: the value in single quotes."""
    if line[-1] in VALUELESS or len(line) < 2:
        return "set " + " ".join(line)
    return "set " + " ".join(line[:-1]) + " '" + line[-1] + "'"


class VyosDevice(CliDevice):
    def __init__(self, hostname="vyos", edge_key=None, user="vyos", version="1.4.0"):
        super().__init__()
        self.hostname, self.user, self.version = hostname, user, version
        self.edge_key = edge_key or (lambda remote_address: None)
        self.running: list[tuple[str, ...]] = [("system", "host-name", hostname)]
        self.saved = list(self.running)
        self.candidate = list(self.running)
        self.commits = 0
        self.sas: dict[str, tuple[float, str]] = {}   # remote address -> (monotonic time it came up, its key)
        self.session_start()

    # --- the session ------------------------------------------------------------------------
    def session_start(self):
        self.configuring = False
        self.closed = False
        self.candidate = list(self.running)

    def banner(self):
        return f"Welcome to VyOS!\n\n   VyOS {self.version}\n"

    def prompt(self):
        if self.configuring:
            return f"[edit]\r\n{self.user}@{self.hostname}# "
        return f"{self.user}@{self.hostname}:~$ "

    def receive(self, line):
        # An empty line only brings the prompt again; it is not a command, so it is not recorded.
        return super().receive(line) if line.strip() else ""

    def handle(self, line):
        command = line.strip()
        if self.configuring:
            return self._configuration_mode(command)
        return self._operational_mode(command)

    # --- operational mode -------------------------------------------------------------------
    def _operational_mode(self, command):
        command, _bar, pipes = command.partition(" | ")
        words = command.split()
        if words[:2] == ["set", "terminal"]:
            return ""
        if command == "configure":
            self.configuring = True
            self.candidate = list(self.running)
            return ""
        if command in ("exit", "logout"):
            self.closed = True
            return "logout\n"
        if command == "show version":
            return self._show_version()
        if command == "show host name":
            return self.hostname + "\n"
        if command == "show configuration commands":
            return self._pipe("\n".join(render(line) for line in sorted(self.running)), pipes)
        if command == "show vpn ike sa":
            return self._show_ike_sa()
        if words[:5] == ["reset", "vpn", "ipsec", "site-to-site", "peer"] and len(words) == 6:
            return self._reset_peer(words[5])
        return f"\n  Invalid command: [{command}]\n"

    def _pipe(self, text, pipes):
        for stage in filter(None, (p.strip() for p in pipes.split(" | "))):
            verb, *pattern = shlex.split(stage)
            if verb not in ("match", "grep") or len(pattern) != 1:
                return f"\n  Invalid command: [| {stage}]\n"
            text = "\n".join(line for line in text.splitlines() if re.search(pattern[0], line))
        return text + "\n" if text else ""

    def _show_version(self):
        return (f"Version:          VyOS {self.version}\nRelease train:    sagitta\n\n"
                "Built by:         autobuild@vyos.net\nArchitecture:     x86_64\n"
                "Boot via:         installed image\nSystem type:      KVM guest\n\n"
                "Hardware vendor:  QEMU\nHardware model:   Standard PC (Q35 + ICH9, 2009)\n")

    def _peers(self):
        """(peer name, remote address) of every site-to-site peer with a remote address."""
        for peer in self._values(self.running, "vpn ipsec site-to-site peer *"):
            remote = self._leaf(self.running, ("vpn", "ipsec", "site-to-site", "peer", peer, "remote-address"))
            if remote:
                yield peer, remote

    def _negotiate(self, peer, remote):
        """A peer without an IKE SA negotiates one (either end may initiate): it comes up when both ends hold
        one key."""
        if remote in self.sas:
            return
        in_force, secret = self.edge_key(remote), self._secret_for(peer, remote)
        if in_force and secret == in_force:
            self.sas[remote] = (time.monotonic(), secret)

    def _reset_peer(self, name):
        remote = dict(self._peers()).get(name)
        if remote is None or remote not in self.sas:
            answer = f"WARNING: Peer's {name} SAs are not initiated. Nothing to terminate\n"
        else:
            del self.sas[remote]
            answer = f"Peer {name} terminate result: success\n"
        if remote is not None:
            self._negotiate(name, remote)
        return answer

    def _show_ike_sa(self):
        blocks = []
        for peer, remote in self._peers():
            base = ("vpn", "ipsec", "site-to-site", "peer", peer)
            self._negotiate(peer, remote)
            local = self._leaf(self.running, base + ("local-address",)) or "any"
            group = ("vpn", "ipsec", "ike-group", self._leaf(self.running, base + ("ike-group",)))
            proposal = [self._leaf(self.running, group + ("proposal", "1", leaf)) or "n/a"
                        for leaf in ("encryption", "hash", "dh-group")]
            lifetime = self._leaf(self.running, group + ("lifetime",)) or "28800"
            since = self.sas[remote][0] if remote in self.sas else None
            state, age = ("up", int(time.monotonic() - since)) if since is not None else ("down", 0)
            blocks += ["Peer ID / IP                            Local ID / IP               ",
                       "------------                            -------------",
                       f"{remote:<39} {local:<39}", "",
                       "    State  IKEVer  Encrypt      Hash          D-H Group      NAT-T  A-Time  L-Time",
                       "    -----  ------  -------      ----          ---------      -----  ------  ------",
                       f"    {state:<6} IKEv2   {proposal[0]:<12} {proposal[1]:<13} {proposal[2]:<14} no     "
                       f"{age:<7} {lifetime if state == 'up' else 0:<7}", ""]
        return "\n".join(blocks) + "\n" if blocks else ""

    def _secret_for(self, peer, remote):
        """The secret strongSwan would use for ``peer``: the psk entry whose ids include the remote's id."""
        auth = ("vpn", "ipsec", "site-to-site", "peer", peer, "authentication", "remote-id")
        remote_id = self._leaf(self.running, auth) or remote
        for name in self._values(self.running, "vpn ipsec authentication psk *"):
            entry = ("vpn", "ipsec", "authentication", "psk", name)
            if remote_id in {line[-1] for line in self.running if line[:-1] == entry + ("id",)}:
                return self._leaf(self.running, entry + ("secret",))
        return None

    # --- configuration mode -----------------------------------------------------------------
    def _configuration_mode(self, command):
        words = command.split()
        if words[:1] == ["run"]:
            return self._operational_mode(command[4:])
        if words[:1] == ["set"]:
            return self._set(command)
        if words[:1] == ["delete"]:
            return self._delete(command)
        if command == "compare":
            return self._compare(self.running, "active")
        if command == "compare saved":
            return self._compare(self.saved, "saved")
        if words[:1] == ["commit"]:
            return self._commit()
        if command == "save":
            self.saved = list(self.running)
            return "Saving configuration to '/config/config.boot'...\nDone\n"
        if command == "discard":
            self.candidate = list(self.running)
            return "  Changes have been discarded\n"
        if command == "exit discard":
            self.candidate, self.configuring = list(self.running), False
            return ""
        if command == "exit":
            if self.candidate != self.running:
                return "Cannot exit: configuration modified.\nUse 'exit discard' to discard the changes and exit.\n"
            self.configuring = False
            return ""
        return f"\n  Invalid command: [{command}]\n"

    def _set(self, command):
        try:
            line = tuple(shlex.split(command)[1:])
        except ValueError:
            return "\n  Set failed\n"
        pattern = next((p for p in _SCHEMA if _matches(p, line[:len(p)]) and len(line) in (len(p), len(p) + 1)), None)
        leaf = pattern[-1] if pattern else None
        valued = pattern is not None and len(line) == len(pattern) + 1
        if pattern is None or valued == (leaf in VALUELESS) or (leaf in _CHOICES and line[-1] not in _CHOICES[leaf]):
            return f"\n  Configuration path: [{' '.join(line)}] is not valid\n  Set failed\n"
        if not valued:
            if line not in self.candidate:
                self.candidate.append(line)
            return ""
        if not _is_multi(line[:-1]):
            self.candidate = [c for c in self.candidate if c[:-1] != line[:-1] or len(c) != len(line)]
        if line not in self.candidate:
            self.candidate.append(line)
        return ""

    def _delete(self, command):
        path = tuple(shlex.split(command)[1:])
        kept = [c for c in self.candidate if c[:len(path)] != path]
        if len(kept) == len(self.candidate):
            return "\n  Nothing to delete (the specified node does not exist)\n  Delete failed\n"
        self.candidate = kept
        return ""

    def _compare(self, against, name):
        removed = [line for line in against if line not in self.candidate]
        added = [line for line in self.candidate if line not in against]
        if not removed and not added:
            return f"No changes between working and {name} configurations.\n\n"
        out = []
        for sign, lines in (("-", removed), ("+", added)):
            for line in sorted(lines):
                valueless = line[-1] in VALUELESS
                parent, item = (line[:-1], line[-1]) if valueless else (line[:-2], f"{line[-2]} '{line[-1]}'")
                out += [f"[edit {' '.join(parent)}]", f"{sign}{item}"]
        return "\n".join(out) + "\n"

    def _commit(self):
        if self.candidate == self.running:
            return "No configuration changes to commit\n"
        problem = self._commit_check(self.candidate)
        if problem:
            return f"\n{problem}\n\n[[vpn ipsec]] failed\nCommit failed\n"
        self.running = list(self.candidate)
        self.commits += 1
        return ""

    def _commit_check(self, config):
        """The references VyOS's vpn_ipsec verify() refuses to commit when they point nowhere."""
        for peer in self._values(config, "vpn ipsec site-to-site peer *"):
            base = ("vpn", "ipsec", "site-to-site", "peer", peer)
            for leaf, kind in ((("ike-group",), "ike-group"), (("vti", "esp-group"), "esp-group"),
                               (("default-esp-group",), "esp-group")):
                name = self._leaf(config, base + leaf)
                if name and name not in self._values(config, f"vpn ipsec {kind} *"):
                    return f"VPN configuration error: peer {peer}: {kind} {name} does not exist"
            bind = self._leaf(config, base + ("vti", "bind"))
            if bind and bind not in self._values(config, "interfaces vti *"):
                return f"VPN configuration error: peer {peer}: VTI interface {bind} does not exist"
        return None

    # --- reading the tree -------------------------------------------------------------------
    @staticmethod
    def _values(config, path):
        """The names of the tag nodes at ``path`` (whose last word is ``*``)."""
        prefix = tuple(path.split()[:-1])
        depth = len(prefix)
        return sorted({line[depth] for line in config if len(line) > depth and line[:depth] == prefix})

    @staticmethod
    def _leaf(config, path):
        return next((line[-1] for line in config if line[:-1] == path), None)

    def config_lines(self, which="running"):
        """The configuration as ``show configuration commands`` prints it (for tests)."""
        return [render(line) for line in sorted(getattr(self, which))]


DEVICE = VyosDevice
