"""router_psk_generated_on: a router that does not hold the key in force gets a rotation, whatever max_age says."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError
from ansible_collections.cloudflare.magic.plugins.module_utils._options import IPSEC_PSK_SPEC
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import (
    RotationRequest,
    rotate_psk,
    run_task,
)

ACCOUNT = "0" * 32
TUNNEL = "1" * 32
IN_FORCE = "2026-11-20T10:48:15.953887008Z"
NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)  # six days after IN_FORCE
ENVIRON = {"CLOUDFLARE_API_TOKEN": "t" * 40, "CLOUDFLARE_ACCOUNT_ID": ACCOUNT}


class FakeClient:
    """Answers the tunnel look-up with ``psk_metadata`` and records every request."""

    def __init__(self, psk_metadata):
        self.psk_metadata = psk_metadata
        self.calls = []

    def call(self, method, path, params=None, body=None, mutates=False):
        self.calls.append((method, path, params))
        if method == "GET":
            tunnel = {"id": TUNNEL, "name": "t1"}
            if self.psk_metadata is not None:
                tunnel["psk_metadata"] = dict(self.psk_metadata)
            return {"ipsec_tunnel": tunnel}
        return {"ipsec_tunnel_id": TUNNEL, "psk": "k" * 43,
                "psk_metadata": {"last_generated_on": "2026-11-26T00:00:00.000000001Z"}}

    def posts(self):
        return sum(1 for method, _path, _params in self.calls if method == "POST")


def params(**options):
    args = dict({"account_id": ACCOUNT, "ipsec_tunnel_id": TUNNEL}, **options)
    return ArgumentSpecValidator(IPSEC_PSK_SPEC).validate(args).validated_parameters


def rotate(psk_metadata=None, check_mode=False, **options):
    client = FakeClient({"last_generated_on": IN_FORCE} if psk_metadata is None else psk_metadata)
    result = rotate_psk(RotationRequest(params(**options), ENVIRON), client, check_mode=check_mode, now=NOW)
    return result, client


@pytest.mark.parametrize("stamp", [IN_FORCE, "2026-11-20T10:48:15.953887008+00:00",
                                   "2026-11-20T11:48:15.953887008+01:00", "2026-11-20T10:48:15.953887008000Z"[:-4] + "Z"])
def test_router_holding_the_key_in_force_leaves_max_age_to_decide(stamp):
    result, client = rotate(max_age="90d", router_psk_generated_on=stamp)
    assert (result["changed"], result["rotation_reason"], client.posts()) == (False, "fresh", 0)
    assert "psk" not in result


@pytest.mark.parametrize("stamp", ["2026-11-20T10:48:15.953887007Z", "2026-08-01T00:00:00Z", "", "  "])
def test_stale_or_missing_router_stamp_rotates_whatever_max_age_says(stamp):
    result, client = rotate(max_age="90d", router_psk_generated_on=stamp)
    assert (result["changed"], result["rotation_reason"], client.posts()) == (True, "router_stale", 1)
    assert result["psk"] == "k" * 43


def test_a_tunnel_that_never_had_a_key_generated_makes_any_router_stamp_stale():
    result, client = rotate(psk_metadata={}, max_age="90d", router_psk_generated_on=IN_FORCE)
    assert (result["rotation_reason"], client.posts()) == ("router_stale", 1)


def test_reasons_without_a_router_stamp():
    assert rotate(max_age="1d")[0]["rotation_reason"] == "max_age"
    assert rotate()[0]["rotation_reason"] == "no_max_age"
    assert rotate(router_psk_generated_on=IN_FORCE)[0]["rotation_reason"] == "no_max_age"


def test_the_option_alone_looks_the_tunnel_up_by_id():
    _result, client = rotate(router_psk_generated_on=IN_FORCE, max_age="90d")
    assert [method for method, _path, _params in client.calls] == ["GET"]
    assert client.calls[0][1].endswith(f"/ipsec_tunnels/{TUNNEL}")


def test_check_mode_reports_a_rotation_for_a_stale_router_and_none_for_a_fresh_one():
    stale, client = rotate(check_mode=True, max_age="90d", router_psk_generated_on="")
    assert (stale["changed"], stale["rotation_reason"], "psk" in stale) == (True, "router_stale", False)
    assert client.calls[-1][2] == {"validate_only": "true"}
    fresh, client = rotate(check_mode=True, max_age="90d", router_psk_generated_on=IN_FORCE)
    assert (fresh["changed"], fresh["rotation_reason"], client.posts()) == (False, "fresh", 0)


@pytest.mark.parametrize("value", ["yesterday", "2026-11-20", "1764154095", "2026-11-20T10:48:15.953887008"])
def test_a_value_that_is_not_a_timestamp_is_refused_before_any_request(value):
    with pytest.raises(OptionError, match="^router_psk_generated_on: is not an RFC 3339 timestamp"):
        RotationRequest(params(router_psk_generated_on=value), ENVIRON)
    result = run_task(params(router_psk_generated_on=value, api_base_url="http://127.0.0.1:9"), ENVIRON)
    assert result["failed"] is True and result["msg"].startswith("router_psk_generated_on: ")


def test_a_refusal_says_to_quote_the_value():
    with pytest.raises(OptionError, match="in quotes"):
        RotationRequest(params(router_psk_generated_on="2026-11-20"), ENVIRON)


# What YAML and Ansible make of an unquoted stamp: a datetime (microseconds only), or its text with a space.
IN_FORCE_AS_YAML_READS_IT = datetime(2026, 11, 20, 10, 48, 15, 953887, tzinfo=timezone.utc)


@pytest.mark.parametrize("stamp", [IN_FORCE_AS_YAML_READS_IT, str(IN_FORCE_AS_YAML_READS_IT),
                                   "2026-11-20 10:48:15.953887+00:00", "2026-11-20t10:48:15.953887008z",
                                   "2026-11-20 10:48:15.953887008Z"])
def test_an_unquoted_or_lower_case_stamp_of_the_key_in_force_is_fresh(stamp):
    result, client = rotate(max_age="90d", router_psk_generated_on=stamp)
    assert (result["rotation_reason"], client.posts()) == ("fresh", 0)


@pytest.mark.parametrize("stamp", [datetime(2026, 11, 20, 10, 48, 15, 953886, tzinfo=timezone.utc),
                                   "2026-11-20 10:48:15.953888+00:00", "2026-11-20 10:48:15+00:00"])
def test_an_unquoted_stamp_of_another_microsecond_is_stale(stamp):
    result, client = rotate(max_age="90d", router_psk_generated_on=stamp)
    assert (result["rotation_reason"], client.posts()) == ("router_stale", 1)


def test_a_quoted_stamp_keeps_its_nanoseconds():
    result, _client = rotate(max_age="90d", router_psk_generated_on="2026-11-20T10:48:15.953887000Z")
    assert result["rotation_reason"] == "router_stale"


def test_a_datetime_without_offset_is_refused_saying_to_quote_it():
    with pytest.raises(OptionError, match="no UTC offset.*in quotes"):
        RotationRequest(dict(params(), router_psk_generated_on=datetime(2026, 11, 20, 10, 48, 15)), ENVIRON)
