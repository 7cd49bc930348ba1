"""ipsec_tunnel_info's logic with a fake session and a fixed clock: what is asked, reported and refused."""

from __future__ import annotations

import pytest
from support.fakes import NOW, TOKEN, FakeSession, fake_client, fake_tunnel, generated, ok, refused

from ansible_collections.cloudflare.magic.plugins.module_utils import _info
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import SECRET_MARKER

ACCOUNT = "025ff6f753bd6d1b6e12dead5ff45e50"
MD5 = "unit-md5-key-7Qx2-do-not-show"


def params(**options):
    base = {name: spec.get("default") for name, spec in _info.IPSEC_TUNNEL_INFO_SPEC.items()}
    base.update(account_id=ACCOUNT, api_token=TOKEN)
    base.update(options)
    return base


def run(tunnels, **options):
    """The report of ``tunnels`` (the list answer) for ``options``, and the requests sent."""
    session = FakeSession(ok({"ipsec_tunnels": tunnels}))
    result = _info.report(_info.InfoRequest(params(**options), {}), fake_client(session), now=NOW)
    return result, session.sent


def by_name(result):
    return {row["name"]: row for row in result["ipsec_tunnels"]}


FLEET = [
    fake_tunnel(1, description="New York", customer_endpoint="203.0.113.10", psk_metadata=generated(12.5),
                bgp={"customer_asn": 64512, "md5_key": MD5}, health_check={"enabled": True}),
    fake_tunnel(2, psk_metadata=generated(200)),
    fake_tunnel(3),  # never keyed: no psk_metadata
    fake_tunnel(4, psk_metadata=generated(45),
                custom_remote_identities={"fqdn_id": f"sin.{ACCOUNT}.custom.ipsec.cloudflare.com"}),
]


def test_all_tunnels_in_one_get_in_cloudflares_order_with_the_reported_fields_only():
    result, sent = run(FLEET)
    assert [request[:2] for request in sent] == [
        ("GET", f"https://api.example.test/client/v4/accounts/{ACCOUNT}/magic/ipsec_tunnels")]
    assert result["changed"] is False and result["reported_on"] == "2026-11-26T12:00:00Z"
    assert [row["name"] for row in result["ipsec_tunnels"]] == ["tunnel_01", "tunnel_02", "tunnel_03", "tunnel_04"]
    first = result["ipsec_tunnels"][0]
    assert first == {"id": f"{1:032x}", "name": "tunnel_01", "description": "New York",
                     "cloudflare_endpoint": "162.159.64.1", "customer_endpoint": "203.0.113.10",
                     "interface_address": "10.252.1.0/31", "psk_metadata": generated(12.5),
                     "never_generated": False, "psk_age_days": 12.5, "psk_metadata_problem": None}
    assert "customer_endpoint" not in result["ipsec_tunnels"][1], "an absent optional field must stay absent"
    assert by_name(result)["tunnel_04"]["custom_remote_identities"]["fqdn_id"].startswith("sin.")
    assert MD5 not in repr(result)


def test_secret_shaped_fields_inside_reported_ones_are_hidden():
    tunnel = fake_tunnel(1, custom_remote_identities={"fqdn_id": "a.b", "shared_secret": MD5})
    result, _sent = run([tunnel])
    assert result["ipsec_tunnels"][0]["custom_remote_identities"] == {"fqdn_id": "a.b", "shared_secret": SECRET_MARKER}


@pytest.mark.parametrize("form", [{}, {"psk_metadata": None}, {"psk_metadata": {}},
                                  {"psk_metadata": {"last_generated_on": None}}],
                         ids=["absent", "null", "empty", "null stamp"])
def test_every_published_form_of_a_never_generated_key(form):
    result, _sent = run([fake_tunnel(1, **form)], max_age="90d", router_psk_generated_on={"tunnel_01": ""})
    row = result["ipsec_tunnels"][0]
    assert row["never_generated"] is True and row["psk_age_days"] is None
    assert row["psk_metadata"] == {"last_generated_on": None}
    assert row["overdue"] is True, "a key of unknown age is rotated by max_age, so it is overdue"
    assert row["router_stale"] is True
    assert result["summary"]["never_generated"] == 1 and result["summary"]["oldest"] is None


def test_overdue_is_exactly_what_max_age_would_rotate():
    tunnels = [fake_tunnel(1, psk_metadata=generated(89.99)), fake_tunnel(2, psk_metadata=generated(90.01)),
               fake_tunnel(3, psk_metadata={"last_generated_on": "not a time"})]
    result, _sent = run(tunnels, max_age="90d")
    rows = by_name(result)
    assert rows["tunnel_01"]["overdue"] is False and rows["tunnel_02"]["overdue"] is True
    assert rows["tunnel_01"]["psk_age_days"] == 89.99 and rows["tunnel_02"]["psk_age_days"] == 90.01
    unreadable = rows["tunnel_03"]
    assert unreadable["overdue"] is True and unreadable["psk_age_days"] is None and unreadable["never_generated"] is False
    assert result["summary"]["overdue"] == 2


def test_without_max_age_or_router_stamps_their_fields_are_absent_and_their_counts_null():
    result, _sent = run(FLEET)
    assert all("overdue" not in row and "router_stale" not in row for row in result["ipsec_tunnels"])
    assert result["summary"]["overdue"] is None and result["summary"]["router_stale"] is None


def test_router_stamps_compare_instants_by_id_or_name():
    stamp = generated(12.5)["last_generated_on"]  # ...123456789Z
    same_instant = stamp.replace(".123456789Z", ".123456789+00:00")
    result, _sent = run(FLEET, router_psk_generated_on={
        f"{1:032X}": same_instant,  # by id, upper case
        "tunnel_02": "2020-01-01T00:00:00Z",
        "tunnel_03": "2026-11-01T00:00:00Z",  # any stamp is stale for a tunnel without a key
    })
    rows = by_name(result)
    assert rows["tunnel_01"]["router_stale"] is False
    assert rows["tunnel_02"]["router_stale"] is True and rows["tunnel_03"]["router_stale"] is True
    assert rows["tunnel_04"]["router_stale"] is None, "a tunnel without a router stamp is unknown, not fresh"
    assert result["summary"]["router_stale"] == 2


def test_summary_counts_and_the_oldest_key():
    result, _sent = run(FLEET, max_age="30d")
    assert result["summary"] == {
        "total": 4, "never_generated": 1, "unknown_age": 0, "overdue": 3, "router_stale": None,
        "oldest": {"name": "tunnel_02", "id": f"{2:032x}", "last_generated_on": generated(200)["last_generated_on"],
                   "psk_age_days": 200.0}}


def test_by_ids_in_the_order_asked_case_insensitive():
    result, sent = run(FLEET, ipsec_tunnel_ids=[f"{4:032x}", f"{2:032X}"])
    assert [row["name"] for row in result["ipsec_tunnels"]] == ["tunnel_04", "tunnel_02"]
    assert result["summary"]["total"] == 2 and len(sent) == 1


def test_by_names_in_the_order_asked():
    result, sent = run(FLEET, ipsec_tunnel_names=["tunnel_03", "tunnel_01"])
    assert [row["name"] for row in result["ipsec_tunnels"]] == ["tunnel_03", "tunnel_01"]
    assert len(sent) == 1


@pytest.mark.parametrize("option, values, named", [
    ("ipsec_tunnel_ids", [f"{1:032x}", f"{99:032x}"], f"{99:032x} is not among the account's 4 IPsec tunnels"),
    ("ipsec_tunnel_names", ["tunnel_01", "tunnel_9"], "but not 'tunnel_9' (0 tunnels)"),
])
def test_an_unknown_tunnel_fails_naming_it_after_the_one_list(option, values, named):
    session = FakeSession(ok({"ipsec_tunnels": FLEET}))
    with pytest.raises(_info.TunnelLookupError) as caught:
        _info.report(_info.InfoRequest(params(**{option: values}), {}), fake_client(session), now=NOW)
    assert str(caught.value).startswith(f"{option}: ") and named in str(caught.value)
    assert "nothing was reported" in str(caught.value) and len(session.sent) == 1


def test_a_name_held_by_two_tunnels_fails():
    twins = [fake_tunnel(1, name="twin"), fake_tunnel(2, name="twin")]
    with pytest.raises(_info.TunnelLookupError, match=r"'twin' \(2 tunnels\)"):
        run(twins, ipsec_tunnel_names=["twin"])


def test_a_router_stamp_for_a_tunnel_not_reported_fails():
    with pytest.raises(_info.OptionError, match=r"router_psk_generated_on: names tunnel_9, not among the reported"):
        run(FLEET, ipsec_tunnel_names=["tunnel_01"], router_psk_generated_on={"tunnel_01": "", "tunnel_9": ""})


@pytest.mark.parametrize("options, message", [
    ({"ipsec_tunnel_ids": []}, "ipsec_tunnel_ids: is empty"),
    ({"ipsec_tunnel_ids": ["xyz"]}, "ipsec_tunnel_ids[0]: must be 32 hexadecimal characters"),
    ({"ipsec_tunnel_ids": [f"{1:032x}", f"{1:032X}"]}, f"ipsec_tunnel_ids: lists {1:032x} more than once"),
    ({"ipsec_tunnel_names": ["tunnel_01", " "]}, "ipsec_tunnel_names[1]: is empty"),
    ({"max_age": "ninety days"}, "max_age: 'ninety days' is not a positive duration"),
    ({"router_psk_generated_on": {"tunnel_01": "yesterday"}},
     "router_psk_generated_on[tunnel_01]: is not an RFC 3339 timestamp"),
    ({"ipsec_tunnel_ids": [f"{1:032x}"], "router_psk_generated_on": {f"{2:032x}": ""}},
     f"router_psk_generated_on: names tunnel {2:032x}, which is not in ipsec_tunnel_ids"),
    ({"account_id": "nope"}, "account_id: must be 32 hexadecimal characters"),
])
def test_bad_input_fails_naming_the_option_before_any_request(options, message):
    # The base URL answers nothing: a request sent would fail with a connection error instead.
    result = _info.run_info_task(params(api_base_url="https://127.0.0.1:9/client/v4", retries=0, **options), {})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith(message), result["msg"]


def test_a_thousand_tunnels_cost_one_request():
    fleet = [fake_tunnel(n, psk_metadata=generated(n % 300)) if n % 3 else fake_tunnel(n) for n in range(1, 1001)]
    result, sent = run(fleet, max_age="90d")
    assert len(sent) == 1 and result["summary"]["total"] == 1000
    assert result["summary"]["never_generated"] == 333


def test_a_refusal_fails_with_cloudflares_status_and_no_token():
    session = FakeSession(refused(403, 10000, "Authentication error"))
    client = fake_client(session, retries=0)
    request = _info.InfoRequest(params(), {})
    with pytest.raises(ApiError) as caught:
        _info.report(request, client, now=NOW)
    assert "HTTP 403" in str(caught.value) and TOKEN not in str(caught.value)
