"""A controller whose local_tmp parent is shared (ANSIBLE_LOCAL_TEMP=/tmp): what others leave there changes nothing.

The run's ANSIBLE_LOCAL_TEMP is a sticky, world-writable folder like /tmp, and the pacing state folder
in it was planted before the run. The rotation must still succeed and hand the key in force on.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from support.playbooks import play, rotate_task, seed_account, write_psk_task

from ansible_collections.cloudflare.magic.plugins.module_utils._options import Credentials
from ansible_collections.cloudflare.magic.plugins.plugin_utils._pacing import STATE_DIR_NAME, SharedPacing

NOBODY = 65534
TRAP_TEXT = "the user's own file, which no task may overwrite\n"


def shared_local_tmp(playbooks):
    """ANSIBLE_LOCAL_TEMP as the runner sets it, made like /tmp (mode 1777), with an empty state folder path."""
    shared = playbooks.workdir / "ansible-tmp"
    shared.mkdir(parents=True, exist_ok=True)
    shared.chmod(0o1777)
    return shared / STATE_DIR_NAME


def state_file_name(playbooks, emulator):
    bucket = Credentials(api_token=playbooks.token).bucket
    return os.path.basename(SharedPacing("unused", emulator.base_url).state_file(bucket))


def rotate_and_hand_on(playbooks, emulator, tmp_path):
    tunnel = seed_account(emulator)["tunnels"][0]
    router_file = tmp_path / "router-psk"
    task = rotate_task(emulator, ipsec_tunnel_id=tunnel["id"], api_base_url=emulator.base_url)
    run = playbooks.run(play(task, write_psk_task(router_file)), timeout=120)
    edge = emulator.edge_psk(tunnel["id"])
    handed_on = bool(edge) and router_file.exists() and router_file.read_text() == edge
    return run, edge, handed_on


def test_a_state_folder_planted_by_another_user_is_not_used_and_its_trap_left_alone(playbooks, emulator, tmp_path):
    folder = shared_local_tmp(playbooks)
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    trap_target = tmp_path / "precious.conf"
    trap_target.write_text(TRAP_TEXT)
    (folder / state_file_name(playbooks, emulator)).symlink_to(trap_target)
    os.chown(folder, NOBODY, NOBODY)

    run, edge, handed_on = rotate_and_hand_on(playbooks, emulator, tmp_path)

    assert run.returncode == 0, run.stdout[-3000:]
    assert handed_on, "the router task did not get the key in force"
    unchanged = trap_target.read_text() == TRAP_TEXT
    assert unchanged, "the task wrote through a link planted in another user's folder"
    assert sorted(p.name for p in folder.iterdir()) == [state_file_name(playbooks, emulator)]
    shown = "".join(run.everything.split())  # older ansible-core wraps warnings, inside paths too
    assert "[WARNING]" in shown and "rate-limitpacingisoffforthistask" in shown
    assert f"{folder}belongstoanotheruser" in shown and "ANSIBLE_LOCAL_TEMP" in shown
    assert "".join((run.stdout + run.stderr).split()).count("rate-limitpacingisoff") == 1  # shown once
    assert run.hits(edge, playbooks.token) == 0


PLANTED = {
    "infinite-quota": '{"quota": Infinity, "remaining": 3, "reset_lo": 1.0, "reset_hi": 2.0}',
    "inflight-pid-1e300": '{"inflight": {"planted": [1e300, NOW]}}',  # sent "now", so not dropped as stale
    "NaN-window-end": '{"quota": 1200, "window": 300, "remaining": 0, "reset_lo": NaN, "reset_hi": NaN}',
}


@pytest.mark.parametrize("content", list(PLANTED.values()), ids=list(PLANTED))
def test_a_state_file_with_absurd_numbers_is_reset_and_the_rotation_goes_on(playbooks, emulator, tmp_path, content):
    folder = shared_local_tmp(playbooks)
    folder.mkdir(mode=0o700)
    state = folder / state_file_name(playbooks, emulator)
    state.write_text(content.replace("NOW", repr(time.time())))

    run, edge, handed_on = rotate_and_hand_on(playbooks, emulator, tmp_path)

    assert run.returncode == 0, run.stdout[-3000:]
    assert "Unexpected" not in run.stdout
    assert handed_on, "the router task did not get the key in force"
    reset = json.loads(state.read_text(), parse_constant=lambda name: pytest.fail(f"{name} left in the state"))
    assert reset["inflight"] == {} and reset["quota"] == 1200
    assert run.hits(edge, playbooks.token) == 0
