"""A minimal HTTP client for the emulator tests, and a way to compare secrets without printing them."""

from __future__ import annotations

import hashlib
from typing import Any

import requests


class ApiClient:
    """requests against ``emu.base_url``; ``trust_env`` is off so REQUESTS_CA_BUNDLE cannot replace our CA."""

    def __init__(self, emu: Any, token: str | None = None, email: str | None = None, key: str | None = None,
                 headers: dict[str, str] | None = None, verify: Any = None):
        self.base_url = emu.base_url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = verify if verify is not None else (emu.ca_file or True)
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"
        if email is not None:
            self.session.headers["X-Auth-Email"] = email
        if key is not None:
            self.session.headers["X-Auth-Key"] = key
        self.session.headers.update(headers or {})

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def generate(self, account_id: str, tunnel_id: str, validate_only: bool = False, **kwargs: Any):
        kwargs.setdefault("json", {})
        params = {"validate_only": "true"} if validate_only else None
        return self.post(f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel_id}/psk_generate",
                         params=params, **kwargs)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def fingerprint(secret: str | None) -> str:
    """Something safe to show instead of a secret."""
    return "none" if secret is None else hashlib.sha256(secret.encode()).hexdigest()[:12]


def assert_same_secret(actual: str | None, expected: str | None, what: str = "secret") -> None:
    """Fail with fingerprints only, never the values (pytest would print the operands of ``==``)."""
    if actual != expected:
        raise AssertionError(f"{what} differs: {fingerprint(actual)} != {fingerprint(expected)}")


def assert_different_secret(a: str | None, b: str | None, what: str = "secret") -> None:
    if a == b:
        raise AssertionError(f"{what} unexpectedly unchanged: {fingerprint(a)}")


def error_codes(answer: requests.Response) -> list[int]:
    return [e["code"] for e in answer.json()["errors"]]
