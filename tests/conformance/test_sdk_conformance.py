"""Cloudflare's official Python SDK (pinned in tests/constraints.txt) as a second client of the emulator.

What the SDK's models accept is Cloudflare's published schema, so every answer here is validated with
them; where the published form is asked for, no field may be unknown to the models. The SDK's request is
also the reference for the module's: both go to the same emulator, which records what it saw.
"""

from __future__ import annotations

import json
import ssl

import cloudflare
import httpx
import pydantic
import pytest
from cf_emulator import NEVER_GENERATED_FORMS, Emulator, Fault, default_seed
from cloudflare.types.magic_transit import (
    IPSECTunnelGetResponse,
    IPSECTunnelListResponse,
    IPSECTunnelPSKGenerateResponse,
    IPSECTunnelPSKSetResponse,
)
from support.playbooks import play, rotate_task, seed_account

AUTH_HEADERS = ("authorization", "x-auth-email", "x-auth-key")


@pytest.fixture(autouse=True)
def no_cloudflare_environment(monkeypatch):
    """The SDK reads CLOUDFLARE_* from the environment: only what a test passes may count."""
    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_BASE_URL",
                 "CLOUDFLARE_API_USER_SERVICE_KEY"):
        monkeypatch.delenv(name, raising=False)


def sdk(emulator, **credentials):
    """An SDK client for the emulator over HTTPS with its CA; no retries, so each call is one request."""
    if not credentials:
        credentials = {"api_token": emulator.token("magic_wan_write")}
    http_client = httpx.Client(verify=ssl.create_default_context(cafile=emulator.ca_file), trust_env=False)
    return cloudflare.Cloudflare(base_url=emulator.base_url, http_client=http_client, max_retries=0, **credentials)


def tunnel_id(emulator, name):
    return next(t["id"] for t in seed_account(emulator)["tunnels"] if t["name"] == name)


def unknown_fields(value, where="result"):
    """Dotted paths of every field the SDK's models do not know, at any depth."""
    found = []
    if isinstance(value, pydantic.BaseModel):
        found += [f"{where}.{name}" for name in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += unknown_fields(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found += unknown_fields(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += unknown_fields(item, f"{where}[{key}]")
    return found


def validated(raw_response, model):
    """The answer's ``result`` validated (not merely constructed, as the SDK does) under ``model``."""
    envelope = raw_response.http_response.json()
    assert envelope["success"] is True and envelope["errors"] == []
    return model.model_validate(envelope["result"])


def body_meaning(record):
    """What a request body asks for: no body and ``{}`` both mean "no parameters"."""
    return json.loads(record.body) if (record.body or b"").strip() else {}


def same_secret(a, b):
    return isinstance(a, str) and a == b


# --- answers under the SDK's models --------------------------------------------------------------

def test_psk_generate_without_a_body_as_the_sdk_sends_it(emulator):
    tunnel = tunnel_id(emulator, "tunnel_lon_01")
    raw = sdk(emulator).magic_transit.ipsec_tunnels.with_raw_response.psk_generate(
        tunnel, account_id=emulator.account_id)
    [request] = emulator.requests
    assert request.method == "POST" and request.headers.get("content-length") == "0" and request.body == b""
    answer = validated(raw, IPSECTunnelPSKGenerateResponse)
    assert unknown_fields(answer) == [], "psk_generate answered fields outside the published schema"
    assert answer.ipsec_tunnel_id == tunnel and answer.psk_metadata.last_generated_on is not None
    assert same_secret(answer.psk, emulator.edge_psk(tunnel)), "the answered key is not the key in force"
    assert same_secret(raw.parse().psk, answer.psk)


def test_psk_generate_validate_only_changes_nothing(emulator):
    tunnel = tunnel_id(emulator, "tunnel_nyc_01")
    before = emulator.tunnel(tunnel)
    raw = sdk(emulator).magic_transit.ipsec_tunnels.with_raw_response.psk_generate(
        tunnel, account_id=emulator.account_id, extra_query={"validate_only": True})
    assert emulator.requests[-1].query == {"validate_only": "true"}
    answer = validated(raw, IPSECTunnelPSKGenerateResponse)
    assert unknown_fields(answer) == []
    assert emulator.edge_psk(tunnel) is None and emulator.tunnel(tunnel) == before


def test_list_and_get_in_the_published_form(emulator):
    tunnels = sdk(emulator).magic_transit.ipsec_tunnels.with_raw_response
    listed = validated(tunnels.list(account_id=emulator.account_id), IPSECTunnelListResponse)
    assert unknown_fields(listed) == [], "list answered fields outside the published schema"
    assert [t.name for t in listed.ipsec_tunnels] == [t["name"] for t in seed_account(emulator)["tunnels"]]
    for tunnel in listed.ipsec_tunnels:
        got = validated(tunnels.get(tunnel.id, account_id=emulator.account_id), IPSECTunnelGetResponse)
        assert unknown_fields(got) == [], f"get {tunnel.name} answered fields outside the published schema"
        same_as_listed = got.ipsec_tunnel.model_dump() == tunnel.model_dump()  # a bool: bgp.md5_key stays unprinted
        assert same_as_listed, f"get {tunnel.name} differs from its list entry"
        assert isinstance(got.ipsec_tunnel.health_check.target, str), "target is text without the header"
    assert "x-magic-new-hc-target" not in emulator.requests[-1].headers


def test_optional_fields_parse_under_the_models(emulator):
    tunnels = sdk(emulator).magic_transit.ipsec_tunnels.with_raw_response
    backup = validated(tunnels.get(tunnel_id(emulator, "tunnel_nyc_01b"), account_id=emulator.account_id),
                       IPSECTunnelGetResponse).ipsec_tunnel
    assert backup.bgp.customer_asn == 64512 and backup.bgp.md5_key
    assert backup.bgp_status.state == "BGP_UP" and backup.bgp_status.tcp_established is True
    assert backup.interface_address6 and backup.automatic_return_routing is False
    singapore = validated(tunnels.get(tunnel_id(emulator, "tunnel_sin_01"), account_id=emulator.account_id),
                          IPSECTunnelGetResponse).ipsec_tunnel
    label, _dot, rest = singapore.custom_remote_identities.fqdn_id.partition(".")
    assert label and rest == f"{emulator.account_id}.custom.ipsec.cloudflare.com"


def test_every_form_of_a_never_generated_key_is_published(tmp_path):
    """The forms ipsec_tunnel_info handles for a tunnel without a key all parse under the SDK's list model."""
    seed = default_seed()
    tunnels = seed["accounts"][0]["tunnels"]
    for number, fields in enumerate(NEVER_GENERATED_FORMS.values()):
        tunnels.append(dict(tunnels[2], id=f"{number + 1:032x}", name=f"never_{number}", **fields))
    with Emulator(tls=True, state_dir=str(tmp_path / "emulator"), seed=seed) as emulator:
        listed = validated(sdk(emulator).magic_transit.ipsec_tunnels.with_raw_response.list(
            account_id=emulator.account_id), IPSECTunnelListResponse)
    assert unknown_fields(listed) == []
    never = [t for t in listed.ipsec_tunnels if t.name.startswith("never_") or t.name == "tunnel_lon_01"]
    assert len(never) == 1 + len(NEVER_GENERATED_FORMS)
    assert all(t.psk_metadata is None or t.psk_metadata.last_generated_on is None for t in never)


@pytest.mark.parametrize("how", ["argument", "extra_headers"])
def test_get_with_the_new_hc_target_header_answers_the_object(emulator, how):
    tunnel = tunnel_id(emulator, "tunnel_nyc_01b")
    header = {"x_magic_new_hc_target": True} if how == "argument" else {
        "extra_headers": {"x-magic-new-hc-target": "true"}}
    raw = sdk(emulator).magic_transit.ipsec_tunnels.with_raw_response.get(
        tunnel, account_id=emulator.account_id, **header)
    assert emulator.requests[-1].headers.get("x-magic-new-hc-target") == "true"
    got = validated(raw, IPSECTunnelGetResponse)
    assert unknown_fields(got) == []
    target = got.ipsec_tunnel.health_check.target
    assert not isinstance(target, str) and (target.effective, target.saved) == ("203.0.113.11", "203.0.113.11")


def test_psk_set_in_bulk(emulator):
    """NEEDS THE ISSUE-13 BRANCH: POST /accounts/{a}/magic/ipsec_tunnels/psk is built there. Until it is
    merged this test fails (the emulator routes the path as a tunnel "psk" and answers 405)."""
    tunnel = tunnel_id(emulator, "tunnel_fra_01")
    chosen = "conformance-bulk-key-" + "Zq7" * 8
    raw = sdk(emulator).magic_transit.ipsec_tunnels.with_raw_response.psk_set(
        account_id=emulator.account_id, psks=[{"id": tunnel, "psk": chosen}])
    request = emulator.requests[-1]
    assert request.path.endswith(f"/accounts/{emulator.account_id}/magic/ipsec_tunnels/psk")
    assert body_meaning(request) == {"psks": [{"id": tunnel, "psk": chosen}]}
    answer = validated(raw, IPSECTunnelPSKSetResponse)
    assert unknown_fields(answer) == []
    assert list(answer.successfully_applied_psks) == [tunnel] and not answer.unapplied_psks
    applied = answer.successfully_applied_psks[tunnel]
    assert applied.ipsec_tunnel_id == tunnel and applied.ipsec_id
    assert same_secret(applied.psk, chosen) and same_secret(emulator.edge_psk(tunnel), chosen)


# --- errors map to the SDK's exception classes ---------------------------------------------------

def test_errors_map_to_the_sdks_exception_classes(emulator):
    account, tunnel = emulator.account_id, tunnel_id(emulator, "tunnel_nyc_01")
    unknown_token = "A" * 40
    cases = (
        (cloudflare.AuthenticationError, 401, {"api_token": unknown_token}, tunnel),
        (cloudflare.PermissionDeniedError, 403, {"api_token": emulator.token("magic_wan_read")}, tunnel),
        (cloudflare.NotFoundError, 404, {}, "f" * 32),
    )
    for error_class, status, credentials, target in cases:
        with pytest.raises(error_class) as raised:
            sdk(emulator, **credentials).magic_transit.ipsec_tunnels.psk_generate(target, account_id=account)
        assert raised.value.status_code == status == emulator.requests[-1].status
    emulator.push_fault(Fault("rate_limited", retry_after=1))
    with pytest.raises(cloudflare.RateLimitError) as raised:
        sdk(emulator).magic_transit.ipsec_tunnels.psk_generate(tunnel, account_id=account)
    assert raised.value.status_code == 429
    assert emulator.edge_psk(tunnel) is None


# --- the module's requests against the SDK's -----------------------------------------------------

def _comparable(record):
    auth = tuple(record.headers.get(name) for name in AUTH_HEADERS)
    return record.method, record.path, record.query, auth, body_meaning(record)


def test_the_module_sends_what_the_sdk_sends(playbooks, emulator):
    account = emulator.account_id
    by_id, by_name = tunnel_id(emulator, "tunnel_nyc_01"), tunnel_id(emulator, "tunnel_fra_01")
    user = emulator.user("global_key")
    check_task = dict(rotate_task(emulator, ipsec_tunnel_id=by_id), check_mode=True)
    key_task = rotate_task(emulator, ipsec_tunnel_id=by_id, api_email=user["email"], api_key=user["api_key"])
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=by_id),
                             rotate_task(emulator, ipsec_tunnel_name="tunnel_fra_01"), check_task, key_task))
    assert run.returncode == 0, run.stdout[-3000:]
    module_requests = emulator.requests
    emulator.clear_requests()

    tunnels = sdk(emulator).magic_transit.ipsec_tunnels
    tunnels.psk_generate(by_id, account_id=account)
    assert [t.id for t in tunnels.list(account_id=account).ipsec_tunnels if t.name == "tunnel_fra_01"] == [by_name]
    tunnels.psk_generate(by_name, account_id=account)
    tunnels.psk_generate(by_id, account_id=account, extra_query={"validate_only": True})
    sdk(emulator, api_email=user["email"], api_key=user["api_key"]).magic_transit.ipsec_tunnels.psk_generate(
        by_id, account_id=account)
    sdk_requests = emulator.requests

    assert [r.status for r in module_requests + sdk_requests] == [200] * 10
    assert len(module_requests) == len(sdk_requests) == 5
    for index, (module_request, sdk_request) in enumerate(zip(module_requests, sdk_requests)):
        module_view, sdk_view = _comparable(module_request), _comparable(sdk_request)
        for part, module_part, sdk_part in zip(("method", "path", "query"), module_view, sdk_view):
            assert module_part == sdk_part, f"request {index}: {part} differs"
        # Credentials: compared as booleans so that a failure never prints one.
        same_auth = module_view[3] == sdk_view[3]
        assert same_auth, f"request {index}: authentication headers differ"
        assert module_view[4] == sdk_view[4], f"request {index}: the body means something else"
    assert run.hits(playbooks.token, user["api_key"], *emulator.generated_psks()) == 0
