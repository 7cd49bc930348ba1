"""The NETCONF server (tests/devices/netconf.py) with the Junos device, as ncclient's Junos handler drives it: the
role tests go through junipernetworks.junos; these pin what those runs rely on, in one session."""

from __future__ import annotations

import pytest
from ncclient import manager
from ncclient.operations import RPCError

from devices.junos import JunosDevice, decrypted, encrypted
from devices.netconf import NetconfServer

POLICY = "set security ike policy P"


def _connect(port, password="pw"):
    return manager.connect(host="127.0.0.1", port=port, username="netops", password=password, hostkey_verify=False,
                           device_params={"name": "junos"}, allow_agent=False, look_for_keys=False, timeout=10)


def test_encrypted_keys_are_junos_9_strings_that_reverse():
    for secret in ("k", "E5v1ir0Guuvo8BLuJGxAmVFSyIv3rrdWe64fxjShUYY", 'a "quoted" key\\'):
        shown = encrypted(secret)
        assert shown.startswith("$9$") and secret not in shown and decrypted(shown) == secret


def test_a_session_locks_loads_compares_commits_confirmed_and_reports_the_sa():
    srx = JunosDevice("srx1", edge_key=lambda address: "k-in-force" if address == "198.51.100.1" else None)
    with NetconfServer(lambda: srx, "netops", "pw") as server:
        nc = _connect(server.port)
        assert "http://xml.juniper.net/netconf/junos/1.0" in nc.server_capabilities
        other = _connect(server.port)
        nc.lock(target="candidate")
        with pytest.raises(RPCError):
            other.lock(target="candidate")
        nc.load_configuration(action="set", format="text", config=[
            f'{POLICY} pre-shared-key ascii-text "k-in-force"', f'{POLICY} description "cloudflare.magic psk x"',
            "set security ike gateway G ike-policy P", "set security ike gateway G address 198.51.100.1"])
        compare = nc.compare_configuration().data_xml
        assert "[edit security ike policy P]" in compare and f'"{encrypted("k-in-force")}"; ## SECRET-DATA' in compare
        assert "k-in-force" not in compare
        with pytest.raises(RPCError):
            nc.load_configuration(action="set", format="text", config=[f"{POLICY} dh-group group99"])
        nc.commit(confirmed=True, timeout="600")
        assert srx.commits[-1] == {"confirmed": True, "timeout": "10", "log": None}
        nc.unlock(target="candidate")
        sa = nc.command(command="show security ike security-associations", format="text").data_xml
        assert "UP     " in sa and "IKEv2          198.51.100.1" in sa
        stamp = nc.command(command="show configuration security ike policy P description", format="text").data_xml
        assert 'description "cloudflare.magic psk x";' in stamp and "pre-shared-key" not in stamp
        srx.expire_confirmed_commit()
        assert srx.running == [] and "198.51.100.1" not in nc.command(
            command="show security ike security-associations", format="text").data_xml
        with pytest.raises(RPCError):
            nc.command(command="request system reboot", format="text")
        nc.close_session()
        other.close_session()
    assert [r for r in srx.requests if r in ("lock", "unlock")] == ["lock", "lock", "unlock"]


def test_a_refusing_server_and_a_wrong_password_let_no_session_in():
    srx = JunosDevice()
    with NetconfServer(lambda: srx, "netops", "pw") as server:
        with pytest.raises(Exception):
            _connect(server.port, password="wrong")
        server.refuse = True
        with pytest.raises(Exception):
            _connect(server.port)
    assert srx.requests == []
