"""The IOS XE simulator answers in the shapes cisco.ios's own terminal and cliconf plugins parse, over real SSH."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import paramiko
import pytest

from devices.ios_xe import IosXeRouter
from devices.sshcli import SshDeviceServer

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "tools"))

import network_collections  # noqa: E402

CONFIG_MODES = {"crypto ikev2 proposal P": "config-ikev2-proposal", "crypto ikev2 policy P": "config-ikev2-policy",
                "crypto ikev2 keyring K": "config-ikev2-keyring", "peer X": "config-ikev2-keyring-peer",
                "crypto ikev2 profile P": "config-ikev2-profile", "crypto ipsec profile P": "ipsec-profile",
                "interface Tunnel1": "config-if"}


_READ_TERMINAL = """
import json, sys
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
from ansible_collections.cisco.ios.plugins.terminal.ios import TerminalModule as T
dump = lambda rs: [[r.pattern.decode(), r.flags] for r in rs]
print(json.dumps({"stdout": dump(T.terminal_stdout_re), "stderr": dump(T.terminal_stderr_re),
                  "config": T.terminal_config_prompt.pattern, "privilege": T.privilege_level_re.pattern}))
"""


@pytest.fixture(scope="module")
def cisco_terminal():
    """cisco.ios's terminal plugin regexes, read in a child process (its collection loader stays out of ours)."""
    try:
        path = network_collections.ensure(ROOT / ".venv" / "network-collections")
    except subprocess.CalledProcessError as error:
        pytest.skip(f"could not unpack cisco.ios from the pinned ansible package: {error}")
    done = subprocess.run([sys.executable, "-c", _READ_TERMINAL, str(path)], capture_output=True, text=True,
                          check=True)
    found = json.loads(done.stdout)
    return types.SimpleNamespace(
        terminal_stdout_re=[re.compile(p.encode(), f) for p, f in found["stdout"]],
        terminal_stderr_re=[re.compile(p.encode(), f) for p, f in found["stderr"]],
        terminal_config_prompt=re.compile(found["config"]), privilege_level_re=re.compile(found["privilege"]))


def _matches(patterns, text):
    return any(p.search(text.encode()) for p in patterns)


def test_every_prompt_and_error_is_what_the_ios_terminal_plugin_recognises(cisco_terminal):
    session = IosXeRouter(enable_password="s").session()
    prompts = [session.prompt()]
    session.handle("enable"), session.handle("s")
    prompts.append(session.prompt())
    session.handle("configure terminal")
    prompts.append(session.prompt())
    for command, mode in CONFIG_MODES.items():
        session.handle(command)
        assert session.prompt() == f"Router({mode})#"
        prompts.append(session.prompt())
    assert prompts[:3] == ["Router>", "Router#", "Router(config)#"]
    for prompt in prompts:
        assert _matches(cisco_terminal.terminal_stdout_re, "\r\n" + prompt), prompt
    assert cisco_terminal.terminal_config_prompt.match("Router(config-ikev2-keyring-peer)#")
    for bad in ("bogus", "ip address 10.0.0.1 255.0.255.0"):
        assert _matches(cisco_terminal.terminal_stderr_re, session.handle(bad)), bad
    session.handle("end")
    assert cisco_terminal.privilege_level_re.search(session.handle("show privilege").strip()).group(1) == "15"
    assert _matches(cisco_terminal.terminal_stderr_re, session.handle("show vlan"))
    for output in (session.handle("show version"), session.handle("show running-config")):
        assert not _matches(cisco_terminal.terminal_stderr_re, output)


def test_a_key_is_checked_when_the_session_is_negotiated(tmp_path):
    edge = {"key": "k1"}
    router = IosXeRouter(edge_key=lambda address: edge["key"] if address == "192.0.2.1" else None, config="""
crypto ikev2 keyring K
 peer X
  address 192.0.2.1
  pre-shared-key k1
crypto ikev2 profile P
 match identity remote address 192.0.2.1 255.255.255.255
 identity local fqdn r.example
 authentication remote pre-share
 authentication local pre-share
 keyring local K
crypto ipsec profile P
 set ikev2-profile P
interface Tunnel1
 tunnel mode ipsec ipv4
 tunnel destination 192.0.2.1
 tunnel protection ipsec profile P
""")
    assert router.session_state("192.0.2.1")[1] == "UP-ACTIVE"
    edge["key"] = "k2"
    assert router.session_state("192.0.2.1")[1] == "UP-ACTIVE", "an established SA survives a key change"
    router.established.clear()
    assert router.session_state("192.0.2.1")[1] == "DOWN-NEGOTIATING"


def _shell(port, password="p"):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=port, username="u", password=password, look_for_keys=False, allow_agent=False)
    return client, client.invoke_shell()


def _read_until(channel, ending, timeout=10):
    data, deadline = b"", time.monotonic() + timeout
    while not data.endswith(ending.encode()) and time.monotonic() < deadline:
        if channel.recv_ready():
            data += channel.recv(4096)
        time.sleep(0.01)
    return data.decode()


def test_the_ssh_server_logs_in_echoes_records_and_refuses(tmp_path):
    router = IosXeRouter(enable_password="en")
    with SshDeviceServer(router.session, "u", "p") as server:
        with pytest.raises(paramiko.AuthenticationException):
            _shell(server.port, password="wrong")
        client, channel = _shell(server.port)
        assert _read_until(channel, "Router>").endswith("Router>")
        channel.send(b"enable\r")
        assert _read_until(channel, "Password: ").endswith("Password: ")
        channel.send(b"en\r")
        output = _read_until(channel, "Router#")
        assert "en\r\n" not in output.replace("enable", "")   # the secret is not echoed
        channel.send(b"show privilege\r")
        answer = _read_until(channel, "Router#")
        assert re.search(r"show privilege\r\nCurrent privilege level is 15\r\nRouter#$", answer)
        client.close()
        assert router.lines == ["enable", "en", "show privilege"]
        server.refuse = True
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            _shell(server.port)
