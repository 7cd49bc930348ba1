"""rotate_psk's decisions with a fake client: what it asks Cloudflare, and what it hands on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.fakes import DEFAULTS, NOW, TOKEN

from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import (
    RotationRequest,
    rotate_psk,
    rotation_reason,
    run_task,
)

ACCOUNT = "a" * 32
TUNNEL = "b" * 32
STAMP = "2026-11-20T12:00:00.5Z"
OWN_KEY = "own-key-of-the-user-0123456789abcdefghijkl"
NEW_KEY = "generated-key-0123456789abcdefghijklmnopqr"


def request(**options):
    params = dict(DEFAULTS, account_id=ACCOUNT, api_token=TOKEN, ipsec_tunnel_id=TUNNEL, ipsec_tunnel_name=None,
                  max_age=None, router_psk_generated_on=None, psk=None)
    params.update(options)
    return RotationRequest(params, {})


class FakeClient:
    """Answers GET of the tunnel and the POSTs; records every call."""

    def __init__(self, answer=None, stamp=STAMP):
        self.calls = []
        self.tunnel = {"id": TUNNEL, "name": "edge-1", "psk_metadata": {"last_generated_on": stamp},
                       "bgp": {"md5_key": "md5-secret"}}
        self.answer = answer

    def call(self, method, path, params=None, body=None, mutates=False):
        self.calls.append((method, path.rsplit("/", 1)[-1], params, body, mutates))
        if method == "GET":
            return {"ipsec_tunnel": self.tunnel}
        return self.answer


@pytest.mark.parametrize("options, stamp, reason", [
    ({}, STAMP, "no_max_age"),
    ({"max_age": "30d"}, STAMP, "fresh"),
    ({"max_age": "5d"}, STAMP, "max_age"),
    ({"max_age": "30d", "router_psk_generated_on": "2026-11-20T12:00:00.500000000Z"}, STAMP, "fresh"),
    ({"max_age": "30d", "router_psk_generated_on": "2026-11-19T12:00:00Z"}, STAMP, "router_stale"),
    ({"max_age": "30d", "router_psk_generated_on": ""}, STAMP, "router_stale"),
    ({"router_psk_generated_on": "2026-11-19T12:00:00Z"}, None, "router_stale"),
])
def test_rotation_reason(options, stamp, reason):
    built = request(**options)
    assert rotation_reason(built.router_stamp, built.max_age, stamp, NOW) == reason


def test_a_fresh_key_is_left_alone_and_nothing_is_posted():
    client = FakeClient()
    result = rotate_psk(request(max_age="30d"), client, now=NOW)
    assert result["changed"] is False and "psk" not in result and [c[0] for c in client.calls] == ["GET"]
    assert result["tunnel"]["bgp"]["md5_key"] != "md5-secret"


def test_check_mode_sends_validate_only_and_hands_nothing_on():
    client = FakeClient(answer={"psk": NEW_KEY, "ipsec_tunnel_id": TUNNEL, "psk_metadata": {}})
    result = rotate_psk(request(), client, check_mode=True, now=NOW)
    (method, endpoint, params, _body, mutates), = client.calls
    assert (method, endpoint, params, mutates) == ("POST", "psk_generate", {"validate_only": "true"}, False)
    assert result["changed"] is True and "psk" not in result and "psk_metadata" not in result


def test_a_generated_key_is_handed_on_with_its_metadata_and_the_post_counts_as_mutating():
    after = {"last_generated_on": "2026-11-26T12:00:00Z"}
    client = FakeClient(answer={"psk": NEW_KEY, "ipsec_tunnel_id": TUNNEL, "psk_metadata": after})
    result = rotate_psk(request(max_age="1d"), client, now=NOW)
    assert client.calls[-1][1:] == ("psk_generate", None, {}, True)
    assert result["psk"] == NEW_KEY and result["psk_metadata"] == after and result["rotation_reason"] == "max_age"
    assert result["tunnel"]["psk_metadata"] == after


@pytest.mark.parametrize("answer, expected", [({"ipsec_id": "ipsec-7"}, "ipsec-7"), ({}, None)])
def test_ipsec_id_is_returned_only_when_the_answer_holds_it(answer, expected):
    client = FakeClient(answer=dict(answer, psk=NEW_KEY, psk_metadata={}))
    assert rotate_psk(request(), client, now=NOW).get("ipsec_id") == expected


def test_the_psk_option_goes_through_the_bulk_endpoint_and_the_own_key_is_handed_on():
    echoed = {"ipsec_id": "ipsec-7", "psk": "echo", "psk_metadata": {"last_generated_on": "2026-11-26T12:00:00Z"}}
    client = FakeClient(answer={"successfully_applied_psks": {TUNNEL: echoed}, "unapplied_psks": {}})
    result = rotate_psk(request(psk=OWN_KEY), client, now=NOW)
    (method, endpoint, params, body, mutates), = client.calls
    assert (method, endpoint, params, mutates) == ("POST", "psk", None, True)
    assert body == {"psks": [{"id": TUNNEL, "psk": OWN_KEY}]}
    assert result["psk"] == OWN_KEY and result["ipsec_id"] == "ipsec-7"


def test_an_answer_without_a_key_fails_saying_the_key_is_unknown():
    with pytest.raises(Exception) as caught:
        rotate_psk(request(), FakeClient(answer={"psk_metadata": {}}), now=NOW)
    assert "holds no psk" in str(caught.value)


def test_run_task_turns_bad_input_into_a_failed_result_without_the_secrets():
    result = run_task(dict(DEFAULTS, account_id="not-an-id", api_token=TOKEN, ipsec_tunnel_id=TUNNEL, psk=OWN_KEY),
                      {"CLOUDFLARE_API_KEY": "env-secret-key"})
    assert result["failed"] and result["msg"].startswith("account_id:")
    assert sum(result["msg"].count(s) for s in (TOKEN, OWN_KEY, "env-secret-key")) == 0


def test_the_pacing_is_made_from_the_validated_connection_only():
    made = []
    result = run_task(dict(DEFAULTS, account_id="bad", api_token=TOKEN, ipsec_tunnel_id=TUNNEL), {},
                      pacing=made.append)
    assert result["failed"] and made == []


def test_max_age_is_read_as_a_duration():
    assert request(max_age="12h").max_age == timedelta(hours=12)


def test_no_field_of_a_failed_result_repeats_the_token_or_the_own_key():
    from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError
    from ansible_collections.cloudflare.magic.plugins.module_utils._options import IPSEC_PSK_SPEC
    from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import failures_as_result

    quoted = f"Authorization: Bearer {TOKEN}; body: {{\"psks\": [{{\"psk\": \"{OWN_KEY}\"}}]}}"
    params = dict(DEFAULTS, account_id=ACCOUNT, api_token=TOKEN, ipsec_tunnel_id=TUNNEL, psk=OWN_KEY)

    def answer_quoting_the_request():
        raise ApiError(400, [{"code": 1004, "message": quoted}], "bad request")

    failed = failures_as_result(IPSEC_PSK_SPEC, params, {}, answer_quoting_the_request, "unknown")
    assert failed["failed"] is True and failed["status"] == 400 and failed["cloudflare_errors"][0]["code"] == 1004
    hits = repr(failed).count(TOKEN) + repr(failed).count(OWN_KEY)  # a count, so a failure prints no secret
    masked = "Authorization: Bearer ********" in failed["cloudflare_errors"][0]["message"]
    assert hits == 0 and masked


@pytest.mark.parametrize("psk", ["ab", "en", "x" * 15])
def test_a_short_own_key_is_refused_before_any_request(psk):
    result = run_task(dict(DEFAULTS, account_id=ACCOUNT, api_token=TOKEN, ipsec_tunnel_id=TUNNEL, psk=psk,
                           api_base_url="http://127.0.0.1:9"), {})
    assert result["failed"] is True and result["msg"].startswith("psk: is shorter than 16 characters")
    assert "********" not in result["msg"]
