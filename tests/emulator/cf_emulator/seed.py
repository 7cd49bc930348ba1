"""The emulator's starting data: loading, expanding (generated fleets) and checking a seed."""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import re
from pathlib import Path
from typing import Any

DEFAULT_SEED_FILE = Path(__file__).resolve().parent.parent / "default-seed.json"
IDENTIFIER = re.compile(r"^[0-9a-f]{32}$")
TUNNEL_NAME = re.compile(r"^[^\s]{1,15}$")

_CLOUDFLARE_ENDPOINTS = ("162.159.64.1", "162.159.65.1", "162.159.66.164", "162.159.67.12")
_FLEET_INTERFACES = ipaddress.ip_network("10.200.0.0/16")
_FLEET_CUSTOMERS = ipaddress.ip_network("100.64.0.0/10")

# A tunnel that never had a key, in every form the published schema admits: SDK 5.x makes psk_metadata and
# its last_generated_on both Optional. Which form Cloudflare sends is not documented; the emulator's own
# tunnels (tunnel_lon_01, a third of every generated fleet) leave psk_metadata out, and a seed may store any
# of these (answered as stored) so that tests cover them all.
NEVER_GENERATED_FORMS = {
    "absent": {},
    "null": {"psk_metadata": None},
    "empty": {"psk_metadata": {}},
    "null_stamp": {"psk_metadata": {"last_generated_on": None}},
}


def load_seed(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        if str(path).endswith((".yml", ".yaml")):
            import yaml  # only for those who prefer YAML seeds

            return yaml.safe_load(handle)
        return json.load(handle)


def default_seed() -> dict[str, Any]:
    """A fresh copy of ``default-seed.json`` (one main account, tokens, a global-key user, tunnels)."""
    return load_seed(DEFAULT_SEED_FILE)


def seed_with_tunnels(n: int, seed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default seed (or ``seed``) with ``n`` generated tunnels added to the first account."""
    result = copy.deepcopy(seed) if seed is not None else default_seed()
    account = result["accounts"][0]
    account["generate_tunnels"] = int(account.get("generate_tunnels", 0)) + int(n)
    return result


def expand_seed(seed: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``seed`` with every ``generate_tunnels`` turned into listed tunnels, then checked."""
    result = copy.deepcopy(seed)
    accounts = result.get("accounts") or []
    if not accounts:
        raise ValueError("seed: at least one account is needed")
    top_level = int(result.pop("generate_tunnels", 0) or 0)
    if top_level:
        accounts[0]["generate_tunnels"] = int(accounts[0].get("generate_tunnels", 0) or 0) + top_level
    for account in accounts:
        count = int(account.pop("generate_tunnels", 0) or 0)
        tunnels = account.setdefault("tunnels", [])
        start = sum(1 for t in tunnels if str(t.get("name", "")).startswith("fleet_"))
        tunnels.extend(_fleet_tunnel(account["id"], start + i) for i in range(count))
    check_seed(result)
    return result


def check_seed(seed: dict[str, Any]) -> None:
    account_ids: set[str] = set()
    tunnel_ids: set[str] = set()
    for account in seed["accounts"]:
        _require_identifier(account.get("id"), "account id")
        if not account.get("tag"):
            raise ValueError(f"seed: account {account['id']} needs a tag (the account part of ipsec_id)")
        if account["id"] in account_ids:
            raise ValueError(f"seed: duplicate account {account['id']}")
        account_ids.add(account["id"])
        names: set[str] = set()
        for tunnel in account.get("tunnels", []):
            _require_identifier(tunnel.get("id"), "tunnel id")
            name = tunnel.get("name")
            if not isinstance(name, str) or not TUNNEL_NAME.match(name):
                raise ValueError(f"seed: tunnel {tunnel['id']} needs a name of 1-15 characters without spaces")
            if name in names:
                raise ValueError(f"seed: duplicate tunnel name {name!r} in account {account['id']}")
            if tunnel["id"] in tunnel_ids:
                raise ValueError(f"seed: duplicate tunnel id {tunnel['id']}")
            for required in ("cloudflare_endpoint", "interface_address"):
                if not tunnel.get(required):
                    raise ValueError(f"seed: tunnel {name} needs {required}")
            _check_fqdn_id(tunnel, account["id"])
            _check_psk_metadata(tunnel)
            names.add(name)
            tunnel_ids.add(tunnel["id"])
    for kind in ("tokens", "users"):
        for entry in seed.get(kind, []):
            _require_identifier(entry.get("id"), f"{kind[:-1]} id")
            for account_id in entry.get("accounts", []):
                if account_id not in account_ids:
                    raise ValueError(f"seed: {kind[:-1]} {entry.get('name')} names unknown account {account_id}")


def _check_fqdn_id(tunnel: dict[str, Any], account_id: str) -> None:
    """A custom IKE identity must have the documented form ``<label>.<account ID>.custom.ipsec.cloudflare.com``."""
    fqdn_id = (tunnel.get("custom_remote_identities") or {}).get("fqdn_id")
    if fqdn_id is None:
        return
    label, _dot, rest = str(fqdn_id).partition(".")
    if not label or rest != f"{account_id}.custom.ipsec.cloudflare.com":
        raise ValueError(f"seed: tunnel {tunnel['name']}: custom_remote_identities.fqdn_id must be "
                         f"<label>.{account_id}.custom.ipsec.cloudflare.com")


def _check_psk_metadata(tunnel: dict[str, Any]) -> None:
    """``psk_metadata`` as the schema has it: absent, null, or an object whose ``last_generated_on`` is text or null."""
    if "psk_metadata" not in tunnel or tunnel["psk_metadata"] is None:
        return
    metadata = tunnel["psk_metadata"]
    if not isinstance(metadata, dict) or not isinstance(metadata.get("last_generated_on", ""), (str, type(None))):
        raise ValueError(f"seed: tunnel {tunnel['name']}: psk_metadata must be null or "
                         "{\"last_generated_on\": <RFC 3339 time or null>}")
    if "psk_age_days" in tunnel:
        raise ValueError(f"seed: tunnel {tunnel['name']}: give psk_metadata or psk_age_days, not both")


def _require_identifier(value: Any, what: str) -> None:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise ValueError(f"seed: {what} must be 32 lowercase hex characters")


def _fleet_tunnel(account_id: str, index: int) -> dict[str, Any]:
    """A deterministic tunnel: the same seed always gives the same ids, names and addresses."""
    tunnel_id = hashlib.sha256(f"{account_id}:fleet:{index}".encode()).hexdigest()[:32]
    interface = _FLEET_INTERFACES.network_address + 2 * (index % 32768)
    customer = _FLEET_CUSTOMERS.network_address + 1 + index
    tunnel: dict[str, Any] = {
        "id": tunnel_id,
        "name": f"fleet_{index:05d}",
        "description": f"Generated fleet tunnel {index}",
        "cloudflare_endpoint": _CLOUDFLARE_ENDPOINTS[index % len(_CLOUDFLARE_ENDPOINTS)],
        "customer_endpoint": str(customer),
        "interface_address": f"{interface}/31",
        "created_on": "2024-01-15T09:30:00.000000Z",
        "modified_on": "2024-01-15T09:30:00.000000Z",
        "allow_null_cipher": False,
        "replay_protection": False,
        "health_check": {
            "enabled": True,
            "target": {"effective": str(customer), "saved": ""},
            "type": "reply",
            "rate": "mid",
            "direction": "unidirectional",
        },
    }
    # A mix of never-rotated, long-ago and recent keys, so age-based rotation has work to do.
    if index % 3 == 1:
        tunnel["psk_age_days"] = 120 + index % 180
    elif index % 3 == 2:
        tunnel["psk_age_days"] = 1 + index % 20
    return tunnel
