"""Accounts, credentials, tunnels and the keys in force at "the edge"."""

from __future__ import annotations

import base64
import copy
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from . import timefmt
from .seed import expand_seed

# Seed-only fields: never part of a tunnel object the API returns.
_SEED_ONLY_FIELDS = ("psk_age_days", "edge_psk", "psk")


@dataclass(frozen=True)
class Account:
    id: str
    tag: str
    name: str


@dataclass(frozen=True)
class Credential:
    id: str
    name: str
    kind: str  # "token" or "global_key"
    permissions: frozenset[str]
    accounts: frozenset[str]
    active: bool = True


def new_psk() -> str:
    """URL-safe base64 of 32 random bytes without padding: 43 characters, may hold ``-`` and ``_``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


class State:
    def __init__(self, seed: dict[str, Any]):
        self.seed = expand_seed(seed)
        self._lock = threading.Lock()
        self.accounts: dict[str, Account] = {}
        self._tunnels: dict[str, dict[str, Any]] = {}
        self._tunnel_account: dict[str, str] = {}
        self._account_tunnels: dict[str, list[str]] = {}
        self._edge: dict[str, str] = {}
        self._generated: list[str] = []  # every key ever answered, in force or not (for leak tests)
        self.tokens: dict[str, Credential] = {}  # token value -> credential
        self.users: dict[str, tuple[str, Credential]] = {}  # email (lower-case) -> (global key, credential)
        # psk_generate's published schema has no ipsec_id; the seed key (or the CLI switch) adds it.
        self.psk_generate_ipsec_id = bool(self.seed.get("psk_generate_ipsec_id", False))
        self._load()

    def _load(self) -> None:
        for account in self.seed["accounts"]:
            self.accounts[account["id"]] = Account(account["id"], account["tag"], account.get("name", ""))
            ids = self._account_tunnels.setdefault(account["id"], [])
            for seeded in account.get("tunnels", []):
                tunnel = {k: copy.deepcopy(v) for k, v in seeded.items() if k not in _SEED_ONLY_FIELDS}
                if "psk_age_days" in seeded:
                    tunnel["psk_metadata"] = {"last_generated_on": timefmt.days_ago(float(seeded["psk_age_days"]))}
                if seeded.get("edge_psk"):
                    self._edge[seeded["id"]] = seeded["edge_psk"]
                self._tunnels[tunnel["id"]] = tunnel
                self._tunnel_account[tunnel["id"]] = account["id"]
                ids.append(tunnel["id"])
        for token in self.seed.get("tokens", []):
            self.tokens[token["value"]] = _credential(token, "token")
        for user in self.seed.get("users", []):
            self.users[user["email"].lower()] = (user["api_key"], _credential(user, "global_key"))

    def secret_values(self) -> set[str]:
        """Every credential value in the seed (for redaction)."""
        return set(self.tokens) | {key for key, _unused in self.users.values()}

    # --- tunnels -----------------------------------------------------------------------------
    def list_tunnels(self, account_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(self._tunnels[t]) for t in self._account_tunnels.get(account_id, [])]

    def all_tunnels(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(t) for t in self._tunnels.values()]

    def tunnel(self, tunnel_id: str, account_id: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            if tunnel_id not in self._tunnels:
                return None
            if account_id is not None and self._tunnel_account[tunnel_id] != account_id:
                return None
            return copy.deepcopy(self._tunnels[tunnel_id])

    def edge_psk(self, tunnel_id: str) -> str | None:
        with self._lock:
            return self._edge.get(tunnel_id)

    def generated_psks(self) -> list[str]:
        with self._lock:
            return list(self._generated)

    def ipsec_id(self, tunnel: dict[str, Any]) -> str:
        fqdn = (tunnel.get("custom_remote_identities") or {}).get("fqdn_id")
        if fqdn:
            return fqdn
        account = self.accounts[self._tunnel_account[tunnel["id"]]]
        return f"{tunnel['id']}.{account.tag}.ipsec.cloudflare.com"

    def generate_psk(self, tunnel_id: str, persist: bool, forced_psk: str | None = None) -> dict[str, Any]:
        """Make a key; with ``persist`` put it in force at the edge and stamp the tunnel."""
        psk = forced_psk if forced_psk is not None else new_psk()
        stamp = timefmt.now()
        with self._lock:
            self._generated.append(psk)
            tunnel = self._tunnels[tunnel_id]
            if persist:
                self._edge[tunnel_id] = psk
                tunnel["psk_metadata"] = {"last_generated_on": stamp}
                tunnel["modified_on"] = stamp
            ipsec_id = self.ipsec_id(tunnel)
        answer = {"ipsec_tunnel_id": tunnel_id, "psk": psk, "psk_metadata": {"last_generated_on": stamp}}
        if self.psk_generate_ipsec_id:
            answer["ipsec_id"] = ipsec_id
        return answer


def _credential(entry: dict[str, Any], kind: str) -> Credential:
    return Credential(
        id=entry["id"],
        name=entry.get("name", entry["id"]),
        kind=kind,
        permissions=frozenset(entry.get("permissions", [])),
        accounts=frozenset(entry.get("accounts", [])),
        active=entry.get("status", "active") == "active",
    )
