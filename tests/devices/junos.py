"""A Juniper SRX's NETCONF side, as much as junipernetworks.junos and the tunnel_psk role use (test equipment).

Where each request and answer comes from (junipernetworks.junos 11.0.0 from the ``ansible`` 13.8.0 wheel,
ansible.netcommon's netconf connection, ncclient 0.7.1's Junos device handler; Juniper's documentation):
- ``<hello>``: the capabilities a Junos device announces (base 1.0, candidate, confirmed-commit, validate,
  url, and ``http://xml.juniper.net/netconf/junos/1.0``) and a ``<session-id>``: Juniper, "NETCONF XML
  Management Protocol Developer Guide", "Exchanging <hello> Elements". The ``junos`` capability is what
  plugins/netconf/junos.py ``guess_network_os`` looks for.
- ``<get-software-information>``: plugins/netconf/junos.py ``get_device_info`` reads ``host-name``,
  ``product-model`` and ``junos-version`` of ``software-information``; the release is the one Cloudflare's SRX
  guide was tested on (23.4R2-S3.9 on an SRX320).
- ``<lock>`` / ``<unlock>`` of the candidate (module_utils/network/junos/junos.py ``locked_config``, through
  netcommon's netconf_base ``lock``/``unlock``): ``<ok/>``, or ``lock-denied`` with the holder's session-id
  (RFC 6241 section 7.5). Uncommitted changes of the lock holder are discarded when it unlocks or its session
  ends (Juniper, NETCONF guide, "Locking and Unlocking the Candidate Configuration").
- ``<get-configuration format="set">``: junos_config ``filter_delete_statements`` reads ``configuration-set``;
  ``<get-configuration compare="rollback" rollback="0" format="text">``: module_utils ``get_diff`` reads
  ``configuration-output`` (the ``show | compare`` text: ``[edit <path>]`` headers, ``+``/``-`` lines; Juniper,
  CLI User Guide, "Comparing Configurations").
- ``<load-configuration action="set" format="text"><configuration-set>``: ncclient
  operations/third_party/juniper/rpc.py ``LoadConfiguration`` as plugins/netconf/junos.py
  ``load_configuration`` calls it; answered ``<load-configuration-results><ok/>``, or with an ``rpc-error``
  ``syntax error`` naming the bad element and ``load-error-count`` (Juniper, Junos XML API,
  ``<load-configuration>``).
- ``<validate>`` (module_utils ``load_config`` calls netconf_base ``validate``) and ``<discard-changes>``
  (junos_config in check mode): ``<ok/>``.
- ``<commit-configuration>`` with ``<confirmed/>``, ``<confirm-timeout>`` (minutes) and ``<log>``:
  plugins/netconf/junos.py ``commit``; answered ``<commit-results>`` / ``<routing-engine>`` /
  ``<commit-success/>`` (Juniper, Junos XML API, ``<commit-configuration>``). A confirmed commit is rolled back
  unless a later commit confirms it (Juniper, CLI User Guide, "commit confirmed"); the simulator rolls back
  when a test calls ``expire_confirmed_commit()``.
- ``<command format="text">`` (junos_command over NETCONF, ncclient ``Command``): ``show configuration <path>``
  answers ``configuration-information/configuration-output`` (what junos_command ``rpc`` reads for a ``show
  configuration`` command); ``show security ike security-associations`` is the RPC
  ``get-ike-security-associations-information`` (also answered by name) and answers ``<output>`` with the table
  of Juniper's ``show security ike security-associations`` page (Index, State, Initiator cookie, Responder
  cookie, Mode, Remote Address). An IKE gateway's SA is ``UP`` when the ``pre-shared-key`` its committed
  ``ike-policy`` holds equals ``edge_key(gateway address)``, the key the far end (the emulator) has in force;
  else it has no SA. This is not IKE: it only says "the router's key is the far end's".
- A stored key is never shown in clear: ``pre-shared-key ascii-text "$9$..."`` (``## SECRET-DATA`` in the
  curly-brace form), Junos's reversible ``$9$`` encoding (the published algorithm, e.g. CPAN Crypt::Juniper;
  the salt here comes from the key, so ``encrypted(key)`` is what the device showed). Reversible: treat it as
  the key.
- ``<close-session>``: ``<ok/>`` (RFC 6241 section 7.8).
Anything else gets an ``rpc-error`` (``operation-not-supported``), so a new request of the role fails a test.

Not simulated: the rest of the configuration tree, commit checks, ``rollback N``, ``commit at``, xml and json
formats, real IKE negotiation.
"""

from __future__ import annotations

import hashlib
import shlex
import threading
from xml.sax.saxutils import escape

from devices.netconf import NetconfDevice, local

JUNOS_NS = "http://xml.juniper.net/junos/23.4R2/junos"
SECRET_LEAVES = {("pre-shared-key", "ascii-text")}

# Every statement the simulated SRX accepts; "*" is a name or a value; a pattern without a value ends in its leaf.
_SCHEMA = [tuple(p.split()) for p in """
interfaces st0 unit * family inet address *
interfaces st0 unit * description *
security ike proposal * authentication-method *
security ike proposal * dh-group *
security ike proposal * authentication-algorithm *
security ike proposal * encryption-algorithm *
security ike proposal * lifetime-seconds *
security ike policy * mode *
security ike policy * proposals *
security ike policy * pre-shared-key ascii-text *
security ike policy * description *
security ike gateway * ike-policy *
security ike gateway * address *
security ike gateway * local-identity hostname *
security ike gateway * local-identity user-at-hostname *
security ike gateway * local-identity inet *
security ike gateway * local-identity key-id *
security ike gateway * external-interface *
security ike gateway * local-address *
security ike gateway * version *
security ipsec proposal * protocol *
security ipsec proposal * authentication-algorithm *
security ipsec proposal * encryption-algorithm *
security ipsec proposal * lifetime-seconds *
security ipsec policy * perfect-forward-secrecy keys *
security ipsec policy * proposals *
security ipsec vpn * bind-interface *
security ipsec vpn * ike gateway *
security ipsec vpn * ike ipsec-policy *
security ipsec vpn * ike no-anti-replay
security ipsec vpn * establish-tunnels *
security flow tcp-mss ipsec-vpn mss *
""".strip().splitlines()]
_VALUELESS = {"no-anti-replay"}
_MULTI = {"proposals", "address"}  # leaves that hold a list (except the gateway's address, one value here)
# Enumerated values (Juniper's statement pages for each): a typo is a syntax error, as on the device.
_CHOICES = {
    "authentication-method": {"pre-shared-keys", "rsa-signatures", "ecdsa-signatures-256", "ecdsa-signatures-384"},
    "dh-group": {f"group{n}" for n in (1, 2, 5, 14, 15, 16, 19, 20, 21, 24)},
    "mode": {"main", "aggressive"}, "version": {"v1-only", "v2-only"}, "protocol": {"esp", "ah"},
    "establish-tunnels": {"immediately", "on-traffic"},
    "keys": {f"group{n}" for n in (1, 2, 5, 14, 19, 20, 21, 24)},
}

# --- $9$ (Junos's reversible encoding of a secret in the configuration) ----------------------------------------
_FAMILY = ("QzF3n6/9CAtpu0O", "B1IREhcSyrleKvMW8LXx", "7N-dVbwsY2g4oaJZGUDj", "iHkq.mPf5T")
_EXTRA = {c: 3 - i for i, family in enumerate(_FAMILY) for c in family}
_ALPHABET = "".join(_FAMILY)
_ENCODING = ((1, 4, 32), (1, 16, 32), (1, 8, 32), (1, 64), (1, 32), (1, 4, 16, 128), (1, 32, 64))


def encrypted(secret: str) -> str:
    """``secret`` as the device shows it: ``$9$`` + salt + filler + one gap group per character."""
    digest = hashlib.sha256(secret.encode()).digest()
    salt = _ALPHABET[digest[0] % len(_ALPHABET)]
    out = "$9$" + salt + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[1:1 + _EXTRA[salt]])
    previous = salt
    for position, char in enumerate(secret):
        value, gaps = ord(char), []
        for weight in reversed(_ENCODING[position % len(_ENCODING)]):
            gaps.insert(0, value // weight)
            value %= weight
        for gap in gaps:
            previous = _ALPHABET[(gap + _ALPHABET.index(previous) + 1) % len(_ALPHABET)]
            out += previous
    return out


def decrypted(text: str) -> str:
    """The inverse of ``encrypted`` (what anyone holding the configuration can do)."""
    salt, rest = text[3], text[4 + _EXTRA[text[3]]:]
    previous, plain = salt, ""
    while rest:
        weights = _ENCODING[len(plain) % len(_ENCODING)]
        group, rest = rest[:len(weights)], rest[len(weights):]
        value = 0
        for char, weight in zip(group, weights):
            value += ((_ALPHABET.index(char) - _ALPHABET.index(previous)) % len(_ALPHABET) - 1) * weight
            previous = char
        plain += chr(value)
    return plain


def _matches(pattern, words):
    return len(pattern) == len(words) and all(p in ("*", w) for p, w in zip(pattern, words))


def _quoted(value: str) -> str:
    if value and all(c.isalnum() or c in "-_./:" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shown(line: tuple) -> tuple:
    """A statement as the device shows it: secrets in ``$9$`` form."""
    if tuple(line[-3:-1]) in SECRET_LEAVES:
        return line[:-1] + (encrypted(line[-1]),)
    return line


def set_line(line: tuple) -> str:
    """``set ...`` as ``show configuration | display set`` prints a statement (secrets encrypted)."""
    shown = _shown(line)
    valued = shown[-1] not in _VALUELESS
    words = list(shown[:-1]) + [_quoted(shown[-1]) if valued else shown[-1]]
    if valued and tuple(line[-3:-1]) in SECRET_LEAVES:
        words[-1] = f'"{shown[-1]}"'
    return "set " + " ".join(words)


def _error(tag, message, bad=None, kind="protocol"):
    info = f"<error-info><bad-element>{escape(bad)}</bad-element></error-info>" if bad else ""
    return (f"<rpc-error><error-type>{kind}</error-type><error-tag>{tag}</error-tag>"
            f"<error-severity>error</error-severity><error-message>{escape(message)}</error-message>{info}</rpc-error>")


class JunosDevice(NetconfDevice):
    """One SRX shared by every NETCONF session. ``running`` / ``candidate``: statements as tuples of words
    (``("security", "ike", "policy", "P", "description", "text")``); ``commits``: one dict per commit
    (``confirmed``, ``timeout``, ``log``); ``requests``: every operation received, ``command`` texts included."""

    reply_attributes = f' xmlns:junos="{JUNOS_NS}"'

    def __init__(self, hostname="srx1", edge_key=lambda address: None, version="23.4R2-S3.9", model="srx320"):
        self.hostname, self.edge_key, self.version, self.model = hostname, edge_key, version, model
        self.running: list[tuple] = []
        self.candidate: list[tuple] = []
        self.commits: list[dict] = []
        self.requests: list[str] = []
        self.lock_holder = None
        self.confirm_restore = None  # the configuration a confirmed commit goes back to unless confirmed
        self._mutex = threading.RLock()

    # --- NETCONF ------------------------------------------------------------------------------------------------
    def hello(self, session_id):
        capabilities = ["urn:ietf:params:netconf:base:1.0", "urn:ietf:params:netconf:capability:candidate:1.0",
                        "urn:ietf:params:netconf:capability:confirmed-commit:1.0",
                        "urn:ietf:params:netconf:capability:validate:1.0",
                        "urn:ietf:params:netconf:capability:url:1.0?scheme=http,ftp,file",
                        "urn:ietf:params:xml:ns:netconf:base:1.0",
                        "urn:ietf:params:xml:ns:netconf:capability:candidate:1.0",
                        "urn:ietf:params:xml:ns:netconf:capability:confirmed-commit:1.0",
                        "urn:ietf:params:xml:ns:netconf:capability:validate:1.0",
                        "http://xml.juniper.net/netconf/junos/1.0", "http://xml.juniper.net/dmi/system/1.0"]
        listed = "".join(f"<capability>{escape(c)}</capability>" for c in capabilities)
        return (f'<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>{listed}</capabilities>'
                f"<session-id>{session_id}</session-id></hello>")

    def rpc(self, session_id, operation):
        name = local(operation.tag)
        with self._mutex:
            self.requests.append(name if name != "command" else f"command: {(operation.text or '').strip()}")
            handler = getattr(self, "_rpc_" + name.replace("-", "_"), None)
            if handler is None:
                return _error("operation-not-supported", f"syntax error, expecting <rpc> element: {name}", name)
            return handler(session_id, operation)

    def session_closed(self, session_id):
        with self._mutex:
            if self.lock_holder == session_id:
                self.lock_holder, self.candidate = None, list(self.running)

    def _rpc_get_software_information(self, _session, _op):
        return (f"<software-information><host-name>{escape(self.hostname)}</host-name>"
                f"<product-model>{self.model}</product-model><product-name>{self.model}</product-name>"
                f"<junos-version>{self.version}</junos-version></software-information>")

    def _rpc_lock(self, session_id, _op):
        if self.lock_holder not in (None, session_id):
            return _error("lock-denied", "configuration database locked by another session",
                          str(self.lock_holder)).replace("<bad-element>", "<session-id>").replace(
                              "</bad-element>", "</session-id>")
        self.lock_holder = session_id
        return "<ok/>"

    def _rpc_unlock(self, session_id, _op):
        if self.lock_holder == session_id:
            self.lock_holder, self.candidate = None, list(self.running)
        return "<ok/>"

    def _rpc_validate(self, _session, _op):
        return "<ok/>"

    def _rpc_discard_changes(self, _session, _op):
        self.candidate = list(self.running)
        return "<ok/>"

    def _rpc_close_session(self, session_id, _op):
        self.session_closed(session_id)
        return "<ok/>"

    def _rpc_load_configuration(self, session_id, op):
        if op.get("action") != "set" or op.get("format") != "text":
            return _error("operation-not-supported", "only action=set format=text is simulated")
        if self.lock_holder not in (None, session_id):
            return _error("lock-denied", "configuration database locked by another session")
        body = next((child.text or "" for child in op if local(child.tag) == "configuration-set"), "")
        for text in body.splitlines():
            problem = self.apply(text)
            if problem:
                return (f"<load-configuration-results>{_error('operation-failed', 'syntax error', problem)}"
                        f"<load-error-count>1</load-error-count></load-configuration-results>")
        return "<load-configuration-results><ok/></load-configuration-results>"

    def _rpc_get_configuration(self, _session, op):
        if op.get("compare") == "rollback" and op.get("rollback", "0") == "0" and op.get("format") == "text":
            return ("<configuration-information><configuration-output>"
                    f"{escape(self.compare())}</configuration-output></configuration-information>")
        if op.get("format") == "set" and not list(op):
            lines = "\n".join(set_line(line) for line in sorted(self.candidate))
            return ("<configuration-information><configuration-set>"
                    f"{escape(lines)}</configuration-set></configuration-information>")
        return _error("operation-not-supported", "only format=set and compare=rollback are simulated")

    def _rpc_commit_configuration(self, _session, op):
        flags = {local(child.tag): (child.text or "") for child in op}
        if "confirmed" in flags:
            if self.confirm_restore is None:
                self.confirm_restore = list(self.running)
        else:
            self.confirm_restore = None  # a plain commit confirms a pending confirmed commit
        self.running = list(self.candidate)
        self.commits.append({"confirmed": "confirmed" in flags, "timeout": flags.get("confirm-timeout"),
                             "log": flags.get("log")})
        return ('<commit-results><routing-engine junos:style="normal"><name>re0</name><commit-success/>'
                "</routing-engine></commit-results>")

    def _rpc_command(self, session_id, op):
        text = (op.text or "").strip()
        if text == "show security ike security-associations":
            return self._rpc_get_ike_security_associations_information(session_id, op)
        if text.startswith("show configuration"):
            path = tuple(shlex.split(text)[2:])
            return ("<configuration-information><configuration-output>"
                    f"{escape(self.show(path))}</configuration-output></configuration-information>")
        return _error("operation-failed", f"syntax error, expecting <command>: {text.split(' ')[0]}", text)

    def _rpc_get_ike_security_associations_information(self, _session, _op):
        rows = ["Index   State  Initiator cookie  Responder cookie  Mode           Remote Address"]
        for index, address in enumerate(self.established(), start=2579478):
            cookies = hashlib.sha256(address.encode()).hexdigest()
            rows.append(f"{index} UP     {cookies[:16]}  {cookies[16:32]}  IKEv2          {address}")
        return f"<output>\n{escape(chr(10).join(rows))}\n</output>"

    # --- the configuration --------------------------------------------------------------------------------------
    def apply(self, text):
        """One ``set`` / ``delete`` line into the candidate; the bad element's text when Junos would refuse it."""
        try:
            words = tuple(shlex.split(text))
        except ValueError:
            return "unbalanced quotes"
        if not words:
            return None
        verb, line = words[0], words[1:]
        if verb == "delete":
            self.candidate = [c for c in self.candidate if c[:len(line)] != line]
            return None
        pattern = next((p for p in _SCHEMA if _matches(p, line)), None)
        if verb != "set" or pattern is None:
            return (line or words)[-1] if verb == "set" else verb
        leaf = pattern[-1] if pattern[-1] != "*" else pattern[-2]
        if pattern[-1] == "*" and leaf in _CHOICES and line[-1] not in _CHOICES[leaf]:
            return line[-1]
        multi = leaf in _MULTI and line[:3] != ("security", "ike", "gateway")
        if pattern[-1] == "*" and not multi:
            self.candidate = [c for c in self.candidate if c[:-1] != line[:-1]]
        if line not in self.candidate:
            self.candidate.append(line)
        return None

    def compare(self):
        """``show | compare``: changed statements under ``[edit <parent>]``, ``-`` then ``+`` (secrets encrypted)."""
        removed = [c for c in self.running if c not in self.candidate]
        added = [c for c in self.candidate if c not in self.running]
        out, header = [], None
        for sign, line in sorted([("-", c) for c in removed] + [("+", c) for c in added],
                                 key=lambda item: (item[1][:-2], item[0] == "+", item[1])):
            shown = _shown(line)
            parent, statement = shown[:-2], f"{shown[-2]} {_quoted(shown[-1])}"
            if shown[-1] in _VALUELESS:
                parent, statement = shown[:-1], shown[-1]
            if tuple(line[-3:-1]) in SECRET_LEAVES:
                parent, statement = shown[:-3], f'pre-shared-key ascii-text "{shown[-1]}"; ## SECRET-DATA'
            if parent != header:
                out.append(f"[edit {' '.join(parent)}]")
                header = parent
            out.append(f"{sign}   {statement}{'' if statement.endswith('DATA') else ';'}")
        return "\n" + "".join(f"{line}\n" for line in out)  # Junos's text output starts on a new line

    def show(self, path):
        """``show configuration <path>``: the statements under ``path``, relative to it, one per line."""
        lines = []
        for line in sorted(self.running):
            if line[:len(path)] != path or len(line) == len(path):
                continue
            shown = _shown(line)[len(path) - (len(line) == len(path) + 1):]  # a leaf's path shows the leaf
            if tuple(line[-3:-1]) in SECRET_LEAVES:
                lines.append(" ".join(shown[:-1]) + f' "{shown[-1]}"; ## SECRET-DATA')
            else:
                lines.append(" ".join(shown[:-1] + (_quoted(shown[-1]),)) + ";")
        return "\n" + "".join(f"{line}\n" for line in lines)

    def leaf(self, *path, which="running"):
        """The value of the statement ``path`` (for tests), or None."""
        return next((line[-1] for line in getattr(self, which) if line[:-1] == path), None)

    def established(self):
        """The gateway addresses whose committed key is the far end's (one SA each)."""
        up = []
        for gateway in sorted({c[3] for c in self.running if c[:3] == ("security", "ike", "gateway")}):
            address = self.leaf("security", "ike", "gateway", gateway, "address")
            policy = self.leaf("security", "ike", "gateway", gateway, "ike-policy")
            key = self.leaf("security", "ike", "policy", policy, "pre-shared-key", "ascii-text") if policy else None
            if address and key and key == self.edge_key(address):
                up.append(address)
        return up

    def expire_confirmed_commit(self):
        """The confirm timer ran out: Junos restores the configuration before the confirmed commit."""
        with self._mutex:
            if self.confirm_restore is not None:
                self.running, self.candidate = self.confirm_restore, list(self.confirm_restore)
                self.confirm_restore = None
