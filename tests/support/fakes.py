"""Fakes for unit tests of the client, the rotation and the action plugins: no socket, no clock, no fork."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from ansible_collections.cloudflare.magic.plugins.module_utils._client import CloudflareClient, RetryPolicy
from ansible_collections.cloudflare.magic.plugins.module_utils._options import CONNECTION_SPEC, Credentials

# The defaults as the argspec gives them: the one place they are written.
DEFAULTS = {name: spec.get("default") for name, spec in CONNECTION_SPEC.items()}
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
TOKEN = "unit-test-token-0123456789abcdef0123"


def policy(**overrides):
    """A RetryPolicy with the argspec's defaults, a seeded jitter and a fixed wall clock."""
    options = {"retries": DEFAULTS["retries"], "max_time": DEFAULTS["retry_max_time"],
               "rate_limit_max_wait": DEFAULTS["rate_limit_max_wait"], "backoff": DEFAULTS["retry_backoff"],
               "backoff_max": DEFAULTS["retry_backoff_max"], "rng": random.Random(1), "now": lambda: NOW}
    options.update(overrides)
    return RetryPolicy(**options)


class Headers(dict):
    """Case-insensitive ``get``, like requests' headers."""

    def get(self, key, default=None):
        return next((v for k, v in self.items() if k.lower() == key.lower()), default)


class FakeResponse:
    def __init__(self, status, body=None, headers=None, content=None):
        self.status_code = status
        self.headers = Headers({"Content-Type": "application/json", **(headers or {})})
        self.content = content if content is not None else json.dumps(body).encode()

    def iter_content(self, size):
        for start in range(0, len(self.content), size):
            yield self.content[start:start + size]

    def close(self):
        pass


def ok(result):
    return FakeResponse(200, {"success": True, "errors": [], "messages": [], "result": result})


def refused(status, code=1000, message="refused", headers=None):
    return FakeResponse(status, {"success": False, "errors": [{"code": code, "message": message}],
                                 "messages": [], "result": None}, headers)


class FakeSession:
    """Answers each request with the next scripted response, or raises the next scripted exception."""

    def __init__(self, *script):
        self.script = list(script)
        self.sent = []

    def get_adapter(self, url):
        return None

    def request(self, method, url, **kwargs):
        self.sent.append((method, url, kwargs.get("params"), kwargs.get("json")))
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


class FakeClock:
    """Monotonic time that moves only when the code sleeps."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class FakePacing:
    def __init__(self):
        self.before = 0
        self.observed = []
        self.problem = None
        self.closed = False

    def before_request(self, bucket):
        self.before += 1

    def observe(self, bucket, rate_limit, status):
        self.observed.append((rate_limit, status))

    def close(self):
        self.closed = True


def fake_client(session, pacing=None, clock=None, **retry):
    clock = clock or FakeClock()
    return CloudflareClient("https://api.example.test/client/v4", Credentials(api_token=TOKEN),
                            timeout=DEFAULTS["timeout"], validate_certs=True, ca_path=None, retry=policy(**retry),
                            pacing=pacing, session=session, sleep=clock.sleep, clock=clock, environ={})


def fake_tunnel(number, **fields):
    """A tunnel object as Cloudflare's list answers it (required fields only, plus ``fields``); ``number`` makes
    its id and name unique. ``psk_metadata`` is left out unless given: a tunnel that never had a key."""
    tunnel = {"id": f"{number:032x}", "name": f"tunnel_{number:02d}", "cloudflare_endpoint": "162.159.64.1",
              "interface_address": f"10.252.{number}.0/31"}
    tunnel.update(fields)
    return tunnel


def generated(days_before_now, now=NOW):
    """``psk_metadata`` of a key generated ``days_before_now`` days before ``now``, with nanoseconds as Cloudflare writes."""
    stamp = (now - timedelta(days=days_before_now)).strftime("%Y-%m-%dT%H:%M:%S")
    return {"last_generated_on": f"{stamp}.123456789Z"}
