"""ipsec_psk_bulk's logic against the in-process emulator: what is sent, what is decided, what is refused."""

from __future__ import annotations

import json
import re

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils import _bulk
from ansible_collections.cloudflare.magic.plugins.module_utils._options import parse_instant
from cf_emulator import Fault

KEY_SHAPE = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")


def params(emulator, **options):
    base = {name: spec.get("default") for name, spec in _bulk.IPSEC_PSK_BULK_SPEC.items()}
    base.update(account_id=emulator.account_id, api_token=emulator.token("magic_wan_write"),
                api_base_url=emulator.base_url, ca_path=emulator.ca_file, retry_backoff=0.01)
    base.update(options)
    return base


def ids(emulator, *names):
    by_name = {t["name"]: t["id"] for t in emulator.tunnels(emulator.account_id)}
    return [by_name[n] for n in names]


def posts(emulator):
    return [r for r in emulator.requests if r.method == "POST"]


def same_keys(result, emulator):
    return all(entry["psk"] == emulator.edge_psk(tid) for tid, entry in result["rotated"].items())


def test_new_psk_is_43_url_safe_characters_and_fresh():
    keys = {_bulk.new_psk() for _unused in range(50)}
    assert len(keys) == 50 and all(KEY_SHAPE.match(k) for k in keys)


@pytest.mark.parametrize("bad, problem", [("", "is empty"), (" Zq9key", "white space"), ("Zq9key\n", "white space"),
                                          ("a\tb", "control character"), ("a\x7fb", "control character"),
                                          (5, "must be a string")])
def test_check_psk_refuses_and_never_quotes_the_key(bad, problem):
    with pytest.raises(_bulk.OptionError) as caught:
        _bulk.check_psk("psk", bad)
    assert str(caught.value).startswith("psk: ") and problem in str(caught.value)
    if isinstance(bad, str) and bad.strip():
        assert str(caught.value).count(bad.strip()) == 0


def test_three_tunnels_in_one_post(emulator):
    wanted = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01", "tunnel_fra_01")
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=wanted), {})
    assert result["changed"] is True and sorted(result["rotated"]) == sorted(wanted)
    assert result["unapplied"] == {} and result["skipped_tunnels"] == []
    assert same_keys(result, emulator), "a returned key is not the edge key"
    assert all(KEY_SHAPE.match(e["psk"]) for e in result["rotated"].values())
    assert {e["name"] for e in result["rotated"].values()} == {"tunnel_nyc_01", "tunnel_lon_01", "tunnel_fra_01"}
    assert all(e["ipsec_id"] == emulator.ipsec_id(tid) for tid, e in result["rotated"].items())
    sent = posts(emulator)
    assert len(sent) == 1 and sent[0].path.endswith("/magic/ipsec_tunnels/psk")
    assert [e["id"] for e in json.loads(sent[0].body)["psks"]] == wanted


def test_batches_split_the_request(emulator):
    wanted = [t["id"] for t in emulator.tunnels(emulator.account_id)]
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=wanted, batch_size=2), {})
    assert len(posts(emulator)) == 3 and len(result["rotated"]) == len(wanted) == 5
    assert same_keys(result, emulator)


def test_max_age_and_router_stamps_decide_per_tunnel(emulator):
    # Seed ages: nyc 12 days, fra 200 days, sin 45 days, lon never keyed.
    nyc, fra, sin, lon = ids(emulator, "tunnel_nyc_01", "tunnel_fra_01", "tunnel_sin_01", "tunnel_lon_01")
    sin_stamp = emulator.tunnel(sin)["psk_metadata"]["last_generated_on"]
    stale_router = {"tunnel_sin_01": "2020-01-01T00:00:00Z"}
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=[nyc, fra, sin, lon], max_age="30d",
                                        router_psk_generated_on=stale_router), {})
    assert sorted(result["rotated"]) == sorted([fra, sin, lon]) and result["skipped_tunnels"] == [nyc]
    assert emulator.edge_psk(nyc) is None
    # The same instant written another way keeps the router's key when max_age allows.
    same = sin_stamp.replace("Z", "+00:00")
    again = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=[nyc], max_age="30d",
                                       router_psk_generated_on={nyc: emulator.tunnel(nyc)["psk_metadata"]
                                                                ["last_generated_on"].replace("Z", "+00:00")}), {})
    assert again["changed"] is False and again["skipped_tunnels"] == [nyc]
    assert parse_instant(same) == parse_instant(sin_stamp)


def test_user_keys_by_id_and_by_name(emulator):
    nyc, lon = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01")
    mine = {"tunnel_nyc_01": "vault-key-one-0123456789", lon: "vault-key-two-0123456789"}
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_names=["tunnel_nyc_01", "tunnel_lon_01"],
                                        psks=mine), {})
    assert emulator.edge_psk(nyc) == "vault-key-one-0123456789" and emulator.edge_psk(lon) == "vault-key-two-0123456789"
    assert same_keys(result, emulator)


def test_partial_refusal_keeps_the_applied_keys_and_warns(emulator):
    nyc, lon, fra = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01", "tunnel_fra_01")
    refused = {lon: "k" * 300}  # the emulator refuses a key longer than 255 characters, naming the tunnel only
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=[nyc, lon, fra], psks=refused), {})
    assert "failed" not in result and sorted(result["rotated"]) == sorted([nyc, fra])
    assert list(result["unapplied"]) == [lon] and emulator.edge_psk(lon) is None
    assert same_keys(result, emulator) and lon in result["warnings"][0]
    failing = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=[nyc, lon], psks=refused, fail_on_unapplied=True),
                                  {})
    assert failing["failed"] is True and lon in failing["msg"] and list(failing["rotated"]) == [nyc]
    assert same_keys(failing, emulator)


def test_check_mode_validates_and_hands_on_no_key(emulator):
    nyc, fra = ids(emulator, "tunnel_nyc_01", "tunnel_fra_01")
    before = {t: emulator.tunnel(t).get("psk_metadata") for t in (nyc, fra)}
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=[nyc, fra]), {}, check_mode=True)
    assert result["changed"] is True and sorted(result["rotated"]) == sorted([nyc, fra])
    assert not any("psk" in e for e in result["rotated"].values())
    assert [r.query for r in posts(emulator)] == [{"validate_only": "true"}]
    assert {t: emulator.tunnel(t).get("psk_metadata") for t in (nyc, fra)} == before
    assert emulator.edge_psk(nyc) is None


def test_lost_answer_is_resent_with_the_same_keys(emulator):
    nyc, lon = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01")
    emulator.push_fault(Fault("reset_after", match_path="/ipsec_tunnels/psk$"))
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=[nyc, lon]), {})
    sent = posts(emulator)
    assert [r.fault for r in sent] == ["reset_after", None]
    assert sent[0].body_sha256 == sent[1].body_sha256
    assert same_keys(result, emulator)


def test_a_failed_batch_keeps_earlier_keys_in_the_failed_result(emulator):
    wanted = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01", "tunnel_fra_01")
    emulator.push_fault(Fault("server_error_json", times=None, match_path="/ipsec_tunnels/psk$"))
    emulator.clear_faults()
    emulator.push_fault(Fault("success_false", times=None, match_path="/ipsec_tunnels/psk$"))
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=wanted, batch_size=2, retries=0), {})
    assert result["failed"] is True and result["rotated"] == {}
    assert "Batch 1" in result["msg"] and result["status"] == 200


@pytest.mark.parametrize("options, option", [
    ({"ipsec_tunnel_ids": []}, "ipsec_tunnel_ids"),
    ({"ipsec_tunnel_ids": ["xyz"]}, "ipsec_tunnel_ids[0]"),
    ({"ipsec_tunnel_ids": ["a" * 32, "A" * 32]}, "ipsec_tunnel_ids"),
    ({"ipsec_tunnel_names": ["ok", " "]}, "ipsec_tunnel_names[1]"),
    ({"ipsec_tunnel_ids": ["a" * 32], "psks": {"a" * 32: " spaced"}}, "psks[" + "a" * 32 + "]"),
    ({"ipsec_tunnel_ids": ["a" * 32], "psks": {"b" * 32: "fine-key-0123456789"}}, "psks"),
    ({"ipsec_tunnel_ids": ["a" * 32], "router_psk_generated_on": {"a" * 32: "yesterday"}},
     "router_psk_generated_on[" + "a" * 32 + "]"),
    ({"ipsec_tunnel_ids": ["a" * 32], "batch_size": 0}, "batch_size"),
    ({"ipsec_tunnel_ids": ["a" * 32], "batch_size": 1001}, "batch_size"),
    ({"ipsec_tunnel_ids": ["a" * 32], "max_age": "soon"}, "max_age"),
])
def test_bad_input_is_refused_before_any_request(emulator, options, option):
    result = _bulk.run_bulk_task(params(emulator, **options), {})
    assert result["failed"] is True and result["msg"].startswith(option + ": ")
    assert emulator.requests == []
    assert result["msg"].count("spaced") == 0


def test_stray_key_by_name_is_refused_before_any_post(emulator):
    nyc = ids(emulator, "tunnel_nyc_01")[0]
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=[nyc], psks={"tunnel_lon_01": "vault-key-x-0123456789"}), {})
    assert result["failed"] is True and result["msg"].startswith("psks: names tunnel_lon_01")
    assert posts(emulator) == []


def test_unknown_name_fails_before_any_post(emulator):
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_names=["tunnel_nyc_01", "nope"]), {})
    assert result["failed"] is True and "'nope' (0 tunnels)" in result["msg"] and posts(emulator) == []


@pytest.mark.parametrize("a, b", [("2026-11-28T10:00:00Z", "2026-11-28T10:00:00+00:00"),
                                  ("2026-11-28T10:00:00.5Z", "2026-11-28T11:00:00.500000000+01:00"),
                                  ("2023-04-21T10:48:15.953887008Z", "2023-04-21T10:48:15.953887008Z")])
def test_parse_instant_compares_instants(a, b):
    assert parse_instant(a) == parse_instant(b)


@pytest.mark.parametrize("text", ["", "2026-11-28", "2026-11-28T10:00:00", "2026-11-28T10:00:00.1234567890Z", None])
def test_parse_instant_refuses_what_is_not_rfc3339(text):
    with pytest.raises(ValueError):
        parse_instant(text)


def test_parse_instant_keeps_nanoseconds():
    assert parse_instant("2023-04-21T10:48:15.953887008Z") == (1682074095, 953887008)


def rotation_params(emulator, **options):
    from ansible_collections.cloudflare.magic.plugins.module_utils._options import IPSEC_PSK_SPEC

    base = {name: spec.get("default") for name, spec in IPSEC_PSK_SPEC.items()}
    base.update(account_id=emulator.account_id, api_token=emulator.token("magic_wan_write"),
                api_base_url=emulator.base_url, ca_path=emulator.ca_file)
    base.update(options)
    return base


def test_ipsec_psk_with_psk_sets_it_through_the_bulk_endpoint(emulator):
    from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import run_task

    lon = ids(emulator, "tunnel_lon_01")[0]
    result = run_task(rotation_params(emulator, ipsec_tunnel_id=lon, psk="my-own-vault-key"), {})
    assert result["changed"] is True and result["psk"] == "my-own-vault-key" == emulator.edge_psk(lon)
    assert result["ipsec_id"] == emulator.ipsec_id(lon)
    assert result["psk_metadata"] == emulator.tunnel(lon)["psk_metadata"]
    sent = posts(emulator)
    assert len(sent) == 1 and sent[0].path.endswith("/magic/ipsec_tunnels/psk")
    assert json.loads(sent[0].body) == {"psks": [{"id": lon, "psk": "my-own-vault-key"}]}


def test_ipsec_psk_with_psk_in_check_mode_sets_nothing(emulator):
    from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import run_task

    lon = ids(emulator, "tunnel_lon_01")[0]
    result = run_task(rotation_params(emulator, ipsec_tunnel_id=lon, psk="my-own-vault-key"), {}, check_mode=True)
    assert result["changed"] is True and "psk" not in result and emulator.edge_psk(lon) is None
    assert [r.query for r in posts(emulator)] == [{"validate_only": "true"}]


@pytest.mark.parametrize("bad", ["", " padded-key", "line\nbreak-key"])
def test_ipsec_psk_refuses_a_bad_psk_before_any_request(emulator, bad):
    from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import run_task

    lon = ids(emulator, "tunnel_lon_01")[0]
    result = run_task(rotation_params(emulator, ipsec_tunnel_id=lon, psk=bad), {})
    assert result["failed"] is True and result["msg"].startswith("psk: ")
    assert emulator.requests == []


def test_ipsec_psk_key_refused_by_cloudflare_fails_clearly(emulator):
    from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import run_task

    lon = ids(emulator, "tunnel_lon_01")[0]
    too_long = "L" * 300
    result = run_task(rotation_params(emulator, ipsec_tunnel_id=lon, psk=too_long), {})
    assert result["failed"] is True and "did not apply the key given in psk" in result["msg"]
    assert "was not changed" in result["msg"] and result["msg"].count(too_long) == 0
    assert emulator.edge_psk(lon) is None


def test_the_same_tunnel_by_name_and_by_id_is_refused_before_any_post(emulator):
    nyc = ids(emulator, "tunnel_nyc_01")[0]
    for option, mapping in (("psks", {"tunnel_nyc_01": "vault-key-one-0123456789", nyc: "vault-key-two-0123456789"}),
                            ("router_psk_generated_on", {"tunnel_nyc_01": "", nyc: ""})):
        result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_names=["tunnel_nyc_01"], **{option: mapping}), {})
        assert result["failed"] is True and result["msg"].startswith(f"{option}: names tunnel {nyc} twice")
        assert "0123456789" not in result["msg"]
    assert posts(emulator) == [] and emulator.edge_psk(nyc) is None


def test_the_same_id_in_two_cases_is_refused_before_any_request(emulator):
    nyc = ids(emulator, "tunnel_nyc_01")[0]
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=[nyc], router_psk_generated_on={nyc: "",
                                                                                                   nyc.upper(): ""}), {})
    assert result["failed"] is True and result["msg"].startswith("router_psk_generated_on: names tunnel")
    assert emulator.requests == []


def test_an_unknown_id_is_refused_before_any_post(emulator):
    nyc = ids(emulator, "tunnel_nyc_01")[0]
    unknown = "f" * 32
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=[nyc, unknown]), {})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith(f"ipsec_tunnel_ids: {unknown} is not among the account's")
    assert posts(emulator) == [] and emulator.edge_psk(nyc) is None


def test_an_answer_quoting_the_request_repeats_no_key_and_no_token(emulator):
    wanted = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01")
    own = "vault-key-one-0123456789"
    emulator.push_fault(Fault("echo_request", times=None, match_path="/ipsec_tunnels/psk"))
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=wanted, psks={wanted[0]: own}), {})
    sent = [e["psk"] for r in posts(emulator) for e in json.loads(r.body)["psks"]]
    assert result["failed"] is True and result["status"] == 400 and len(sent) == 2 and own in sent
    hits = sum(repr(result).count(s) for s in [*sent, emulator.token("magic_wan_write")])
    masked = "Bearer ********" in result["cloudflare_errors"][0]["message"]
    assert hits == 0 and masked


def test_a_batch_failure_after_an_applied_batch_still_hands_on_the_applied_keys(emulator):
    wanted = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01")
    # The first batch is applied (a zero delay lets it through), the second one's answer quotes its body.
    emulator.push_fault(Fault("delay", times=1, delay=0.0, match_path="/ipsec_tunnels/psk"))
    emulator.push_fault(Fault("echo_request", times=None, match_path="/ipsec_tunnels/psk"))
    result = _bulk.run_bulk_task(params(emulator, ipsec_tunnel_ids=wanted, batch_size=1), {})
    assert result["failed"] is True and list(result["rotated"]) == [wanted[0]]
    assert same_keys(result, emulator)
    rest = {k: v for k, v in result.items() if k != "rotated"}
    second = [e["psk"] for e in json.loads(posts(emulator)[1].body)["psks"]]
    hits = sum(repr(rest).count(s) for s in second + [emulator.token("magic_wan_write")])
    assert hits == 0
