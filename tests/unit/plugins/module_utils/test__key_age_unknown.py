"""A key whose age cannot be known: a stamp in the future, or psk_metadata that is not an object. The report
flags it instead of showing a negative age or "never generated", and a rotation with max_age rotates it."""

from __future__ import annotations

from datetime import timedelta

from support.fakes import DEFAULTS, NOW, TOKEN, FakeSession, fake_client, fake_tunnel, generated, ok

from ansible_collections.cloudflare.magic.plugins.module_utils import _info
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import RotationRequest, rotate_psk

ACCOUNT = "025ff6f753bd6d1b6e12dead5ff45e50"
IN_A_YEAR = generated(-365)
NEW_KEY = "generated-key-0123456789abcdefghijklmnopqr"


def info(tunnels, **options):
    params = {name: spec.get("default") for name, spec in _info.IPSEC_TUNNEL_INFO_SPEC.items()}
    params.update(account_id=ACCOUNT, api_token=TOKEN, **options)
    result = _info.report(_info.InfoRequest(params, {}), fake_client(FakeSession(ok({"ipsec_tunnels": tunnels}))),
                          now=NOW)
    return {row["name"]: row for row in result["ipsec_tunnels"]}, result["summary"]


def test_the_report_flags_a_future_stamp_and_malformed_metadata_as_unknown_age_and_overdue():
    rows, summary = info([
        fake_tunnel(1, psk_metadata=IN_A_YEAR),
        fake_tunnel(2, psk_metadata="2026-11-20T12:00:00Z"),  # a string, not {"last_generated_on": ...}
        fake_tunnel(3, psk_metadata={"last_generated_on": "last tuesday"}),
        fake_tunnel(4, psk_metadata=generated(-1 / 1440)),  # one minute ahead: within the clocks' skew
        fake_tunnel(5),
    ], max_age="90d")
    future, text, garbled, skewed, never = (rows[f"tunnel_0{n}"] for n in range(1, 6))
    assert future["psk_age_days"] is None and future["overdue"] is True and future["never_generated"] is False
    assert future["psk_metadata_problem"] == "last_generated_on is 365.00 days in the future"
    assert text["never_generated"] is False and text["overdue"] is True
    assert text["psk_metadata_problem"] == "psk_metadata is a str, not an object"
    assert garbled["psk_metadata_problem"] == "last_generated_on is not an RFC 3339 time" and garbled["overdue"]
    assert skewed["psk_metadata_problem"] is None and skewed["overdue"] is False and skewed["psk_age_days"] == 0.0
    assert never["never_generated"] is True and never["psk_metadata_problem"] is None
    assert summary["unknown_age"] == 3 and summary["never_generated"] == 1 and summary["overdue"] == 4


class TunnelClient:
    def __init__(self, metadata):
        self.metadata = metadata
        self.posted = []

    def call(self, method, path, params=None, body=None, mutates=False):
        if method == "GET":
            return {"ipsec_tunnel": {"id": "b" * 32, "name": "edge-1", "psk_metadata": self.metadata}}
        self.posted.append(path)
        return {"psk": NEW_KEY, "psk_metadata": {"last_generated_on": "2026-11-26T12:00:00Z"}}


def rotate(metadata):
    params = dict(DEFAULTS, account_id="a" * 32, api_token=TOKEN, ipsec_tunnel_id="b" * 32, ipsec_tunnel_name=None,
                  max_age="90d", router_psk_generated_on=None, psk=None)
    client = TunnelClient(metadata)
    return rotate_psk(RotationRequest(params, {}), client, now=NOW), client


def test_ipsec_psk_with_max_age_rotates_a_key_stamped_in_the_future_or_with_malformed_metadata():
    for metadata in (IN_A_YEAR, "2026-11-20T12:00:00Z", ["x"]):
        result, client = rotate(metadata)
        assert result["changed"] is True and result["rotation_reason"] == "max_age" and result["psk"] == NEW_KEY
        assert len(client.posted) == 1
    ahead = {"last_generated_on": (NOW + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    result, client = rotate(ahead)
    assert result["rotation_reason"] == "fresh" and client.posted == []
