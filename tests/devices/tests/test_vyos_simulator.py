"""The SSH device simulator (tests/devices/sshcli.py) with the VyOS device, as a client sees it: prompts, echo,
modes, refusal, its own process. The role tests drive it through network_cli; these pin what those runs rely on."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest

from devices.sshcli import SshDeviceServer
from devices.vyos import VyosDevice

DEVICES = Path(__file__).resolve().parents[1]


def _client(port, password="pw"):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=port, username="vyos", password=password, look_for_keys=False,
                   allow_agent=False, timeout=10)
    return client


def _until(channel, ending, timeout=10.0):
    data, deadline = b"", time.monotonic() + timeout
    while not data.endswith(ending.encode()) and time.monotonic() < deadline:
        if channel.recv_ready():
            data += channel.recv(65535)
        else:
            time.sleep(0.02)
    return data.decode()


def test_shell_prompts_modes_and_the_record_of_every_line():
    device = VyosDevice("r1", edge_key=lambda remote: "k-in-force")
    with SshDeviceServer(lambda: device, "vyos", "pw") as server:
        shell = _client(server.port).invoke_shell()
        assert _until(shell, "vyos@r1:~$ ").endswith("vyos@r1:~$ ")
        shell.send(b"configure\r")
        assert _until(shell, "# ").endswith("configure\r\n[edit]\r\nvyos@r1# ")
        shell.send(b"set vpn ipsec nonsense 1\r")
        assert "\r\n  Set failed\r\n" in _until(shell, "# ")
        shell.send(b"exit\r")
        assert _until(shell, "$ ").endswith("vyos@r1:~$ ")
    assert device.lines == ["configure", "set vpn ipsec nonsense 1", "exit"]


def test_wrong_password_is_refused():
    with SshDeviceServer(VyosDevice, "vyos", "pw") as server:
        with pytest.raises(paramiko.AuthenticationException):
            _client(server.port, password="wrong")


def test_refuse_closes_connections_before_ssh_starts():
    with SshDeviceServer(VyosDevice, "vyos", "pw", refuse=True) as server:
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            _client(server.port)


def test_exec_request_answers_one_command():
    with SshDeviceServer(lambda: VyosDevice("r2"), "vyos", "pw") as server:
        stdout = _client(server.port).exec_command("show host name")[1]
        assert stdout.read().decode().strip() == "r2"


def test_runs_as_its_own_process(tmp_path):
    key = tmp_path / "edge-key"
    key.write_text("k1\n")
    process = subprocess.Popen([sys.executable, str(DEVICES / "sshcli.py"), "--platform", "vyos", "--hostname", "r3",
                                "--username", "vyos", "--password", "pw", "--edge-key-file", str(key)],
                               stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline().split()[-1])  # "listening on 127.0.0.1 PORT"
        stdout = _client(port).exec_command("show version")[1]
        assert "Version:          VyOS 1.4.0" in stdout.read().decode()
        shell = _client(port).invoke_shell()
        _until(shell, "$ ")
        for line in ("configure", "set vpn ipsec authentication psk cf id '192.0.2.1'",
                     "set vpn ipsec authentication psk cf secret 'k1'",
                     "set vpn ipsec site-to-site peer cf remote-address '192.0.2.1'", "commit", "exit"):
            shell.send(line.encode() + b"\r")
            _until(shell, "# " if line != "exit" else "$ ")
        shell.send(b"show vpn ike sa\r")
        assert "\r\n    up " in _until(shell, "$ ")  # the secret equals the key in --edge-key-file
    finally:
        process.terminate()
        process.wait(10)


def test_an_ike_sa_keeps_its_age_and_old_key_across_a_commit_until_the_peer_is_reset():
    """As VyOS 1.4: a commit loads the new secret for the next negotiation; the SA up stays up, ageing (A-Time),
    until `reset vpn ipsec site-to-site peer` terminates it and a new one is negotiated with the committed key."""
    in_force = {"key": "k1"}
    device = VyosDevice("r4", edge_key=lambda remote: in_force["key"])
    for line in ("configure", "set vpn ipsec authentication psk cf id '192.0.2.1'",
                 "set vpn ipsec authentication psk cf secret 'k1'",
                 "set vpn ipsec site-to-site peer cf remote-address '192.0.2.1'", "commit"):
        device.handle(line)
    assert "    up     IKEv2" in device.handle("run show vpn ike sa")
    device.sas["192.0.2.1"] = (time.monotonic() - 3600, "k1")        # up for an hour
    in_force["key"] = "k2"
    device.handle("set vpn ipsec authentication psk cf secret 'k2'")
    device.handle("commit")
    state = [line.split() for line in device.handle("run show vpn ike sa").splitlines() if "IKEv2" in line][0]
    assert state[0] == "up" and int(state[-2]) >= 3600, state       # A-Time, then L-Time
    assert device.handle("run reset vpn ipsec site-to-site peer cf") == "Peer cf terminate result: success\n"
    state = [line.split() for line in device.handle("run show vpn ike sa").splitlines() if "IKEv2" in line][0]
    assert state[0] == "up" and int(state[-2]) < 5 and device.sas["192.0.2.1"][1] == "k2", state
    in_force["key"] = "k3"                                              # the far end moves on: no new SA
    device.handle("run reset vpn ipsec site-to-site peer cf")
    assert "    down" in device.handle("run show vpn ike sa")
    assert "Nothing to terminate" in device.handle("run reset vpn ipsec site-to-site peer cf")
