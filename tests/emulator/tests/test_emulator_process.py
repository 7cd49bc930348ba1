"""``cf_emulator.process``: spawn() and the shell entry that ansible-test targets use."""

from __future__ import annotations

import json
import os
import signal
import stat

import pytest
from cf_emulator import default_seed
from cf_emulator.control import ControlClient
from cf_emulator.process import EmulatorStartError, main, spawn


def test_spawn_waits_until_it_listens_and_stop_ends_it(tmp_path):
    log = tmp_path / "emulator.log"
    emulator = spawn(tmp_path / "state", log_file=log)
    try:
        assert emulator.base_url.startswith("https://127.0.0.1:") and emulator.base_url.endswith("/client/v4")
        assert emulator.ca_file == str(tmp_path / "state" / "ca.pem")
        assert emulator.control.health()
        assert len(emulator.control.tunnels()) == 6
    finally:
        status = emulator.stop()
    assert status == 0
    assert not (tmp_path / "state" / "ready.json").exists()
    assert f"cf_emulator listening on {emulator.base_url}" in log.read_text()


def test_a_stale_ready_file_is_not_taken_for_the_new_emulator(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "ready.json").write_text(json.dumps({"base_url": "http://127.0.0.1:9/client/v4", "ca_file": None,
                                                  "control_url": "http://127.0.0.1:9/__emulator", "pid": 1}))
    with spawn(state, "--no-tls") as emulator:
        assert emulator.base_url != "http://127.0.0.1:9/client/v4"
        assert emulator.ca_file is None
        assert emulator.control.health()


def test_an_emulator_that_cannot_start_raises_and_names_its_log(tmp_path):
    log = tmp_path / "emulator.log"
    with pytest.raises(EmulatorStartError, match="did not start") as raised:
        spawn(tmp_path / "state", "--ratelimit-quota", "not-a-number", log_file=log, timeout=20)
    assert str(log) in str(raised.value)
    assert "invalid int value" in log.read_text()


def test_shell_entry_writes_a_private_env_file_and_leaves_the_emulator_running(tmp_path, capsys):
    env_file = tmp_path / "env.sh"
    assert main(["--state-dir", str(tmp_path / "state"), "--env-file", str(env_file), "--generate-tunnels", "3"]) == 0
    variables = dict(line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines())
    pid = int(variables["CF_EMULATOR_PID"])
    try:
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        seed = default_seed()
        assert variables["CLOUDFLARE_ACCOUNT_ID"] == seed["accounts"][0]["id"]
        token_matches = variables["CLOUDFLARE_API_TOKEN"] == next(
            t["value"] for t in seed["tokens"] if t["name"] == "magic_wan_write")
        assert token_matches
        assert variables["CLOUDFLARE_BASE_URL"].startswith("https://127.0.0.1:")
        ready = json.loads((tmp_path / "state" / "ready.json").read_text())
        assert ready["pid"] == pid and ready["control_url"] == variables["CF_EMULATOR_CONTROL_URL"]
        control = ControlClient(variables["CF_EMULATOR_CONTROL_URL"], variables["CF_EMULATOR_CA_FILE"])
        assert len(control.tunnels()) == 6 + 3
        printed = capsys.readouterr().out
        assert printed == f"cf_emulator {pid} listening on {variables['CLOUDFLARE_BASE_URL']}\n"
    finally:
        os.kill(pid, signal.SIGTERM)
        _unused, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
