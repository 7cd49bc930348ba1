"""max_age under an hour: refused by the rotating modules (``90`` meant as days, ``3m`` meant as months would
rotate the key at nearly every run) unless allow_short_max_age; ipsec_tunnel_info, a report, takes any age."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cloudflare.magic.plugins.module_utils._bulk import IPSEC_PSK_BULK_SPEC, BulkRequest
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError
from ansible_collections.cloudflare.magic.plugins.module_utils._info import IPSEC_TUNNEL_INFO_SPEC, InfoRequest
from ansible_collections.cloudflare.magic.plugins.module_utils._options import (
    IPSEC_PSK_SPEC,
    MAX_AGE_FLOOR,
    parse_max_age,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import RotationRequest

ACCOUNT = "0" * 32
TUNNEL = "1" * 32
ENVIRON = {"CLOUDFLARE_API_TOKEN": "t" * 40, "CLOUDFLARE_ACCOUNT_ID": ACCOUNT}


def validated(spec, **args):
    return ArgumentSpecValidator(spec).validate(dict({"account_id": ACCOUNT}, **args)).validated_parameters


@pytest.mark.parametrize(("value", "said"), [("90", "'90' is 90 seconds, under 1 hour"),
                                             ("3m", "'3m' is 3 minutes, under 1 hour"),
                                             ("59m", "'59m' is 59 minutes"), (3599, "'3599' is 3599 seconds")])
def test_an_age_under_the_floor_is_refused_naming_the_unit_and_the_override(value, said):
    with pytest.raises(OptionError) as refused:
        parse_max_age(value, MAX_AGE_FLOOR)
    message = str(refused.value)
    assert message.startswith("max_age: ") and said in message, message
    assert "90d (days)" in message and "allow_short_max_age: true" in message


@pytest.mark.parametrize(("value", "seconds"), [("1h", 3600), ("60m", 3600), ("3600", 3600), ("90d", 90 * 86400)])
def test_an_age_at_or_over_the_floor_is_taken(value, seconds):
    assert parse_max_age(value, MAX_AGE_FLOOR) == timedelta(seconds=seconds)


def test_the_rotating_modules_apply_the_floor_unless_allowed():
    for build, spec, tunnels in ((RotationRequest, IPSEC_PSK_SPEC, {"ipsec_tunnel_id": TUNNEL}),
                                 (BulkRequest, IPSEC_PSK_BULK_SPEC, {"ipsec_tunnel_ids": [TUNNEL]})):
        with pytest.raises(OptionError, match="^max_age: '90' is 90 seconds"):
            build(validated(spec, max_age="90", **tunnels), ENVIRON)
        allowed = build(validated(spec, max_age="90", allow_short_max_age=True, **tunnels), ENVIRON)
        assert allowed.max_age == timedelta(seconds=90)
        assert build(validated(spec, max_age="90d", **tunnels), ENVIRON).max_age == timedelta(days=90)


def test_the_report_takes_a_short_age():
    request = InfoRequest(validated(IPSEC_TUNNEL_INFO_SPEC, max_age="30m"), ENVIRON)
    assert request.max_age == timedelta(minutes=30)
