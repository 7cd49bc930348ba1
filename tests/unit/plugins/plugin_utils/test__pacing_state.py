"""The shared pacing state when local_tmp's parent is shared: planted folders, links, numbers and locks.

Every case here is something another user of the controller (or a damaged file) could leave behind;
none may make a task raise, hang, or write outside a folder of the user's own.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._client import read_rate_limit
from ansible_collections.cloudflare.magic.plugins.plugin_utils._pacing import LOCK_WAIT, SharedPacing

BASE_URL = "https://api.example.test/client/v4"
BUCKET = "bucket-of-one-credential"
NOBODY = 65534
NOW = 1_700_000_000.0
ANSWER = {"Ratelimit": '"default";r=1100;t=200', "Ratelimit-Policy": '"burst";q=1200;w=300'}


class NoLongSleep:
    """A sleep that records and refuses to loop for ever: a state file must not make a task wait."""

    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)
        if len(self.calls) > 50 or not seconds < 60:
            raise AssertionError("the pacing kept waiting on what the state file said")


def pacing_in(directory, sleep=None):
    return SharedPacing(str(directory), BASE_URL, max_wait=310.0, clock=lambda: NOW, sleep=sleep or NoLongSleep())


def one_request(pacing):
    """What the client does around one API call; returns the seconds the pacing slept (a recording sleep)."""
    slept = getattr(pacing.sleep, "calls", [])
    before = sum(slept)
    pacing.before_request(BUCKET)
    pacing.observe(BUCKET, read_rate_limit(ANSWER), 200)
    pacing.close()
    return sum(slept) - before


def strict_json(text):
    def refuse(constant):
        raise ValueError(constant)
    return json.loads(text, parse_constant=refuse)


def test_a_new_state_folder_is_private_and_its_file_is_0600(tmp_path):
    folder = tmp_path / "state"
    pacing = pacing_in(folder)
    assert one_request(pacing) == 0 and pacing.problem is None
    state = folder / os.path.basename(pacing.state_file(BUCKET))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert strict_json(state.read_text())["remaining"] == 1100


def test_a_folder_of_another_user_is_not_used_and_the_warning_says_which_and_what_to_do(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    os.chown(folder, NOBODY, NOBODY)
    pacing = pacing_in(folder)
    assert one_request(pacing) == 0
    assert list(folder.iterdir()) == []
    assert str(folder) in pacing.problem and "another user" in pacing.problem
    assert "ANSIBLE_LOCAL_TEMP" in pacing.problem and "pacing is off" in pacing.problem


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777, 0o722], ids=oct)
def test_an_own_folder_that_others_can_write_to_is_not_used(tmp_path, mode):
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(mode)
    pacing = pacing_in(folder)
    assert one_request(pacing) == 0
    assert list(folder.iterdir()) == []
    assert str(folder) in pacing.problem and oct(mode)[2:] in pacing.problem
    assert "ANSIBLE_LOCAL_TEMP" in pacing.problem


def test_a_folder_that_is_a_symlink_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    folder = tmp_path / "state"
    folder.symlink_to(elsewhere)
    pacing = pacing_in(folder)
    assert one_request(pacing) == 0
    assert list(elsewhere.iterdir()) == []
    assert str(folder) in pacing.problem and "symbolic link" in pacing.problem


@pytest.mark.parametrize("owner", ["mine", "another-users"])
def test_a_state_file_that_is_a_symlink_leaves_its_target_unchanged(tmp_path, owner):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    target = tmp_path / "precious.conf"
    target.write_text("content the user keeps\n")
    state = folder / os.path.basename(pacing_in(folder).state_file(BUCKET))
    state.symlink_to(target)
    if owner != "mine":
        os.chown(folder, NOBODY, NOBODY)
    pacing = pacing_in(folder)
    assert one_request(pacing) == 0
    unchanged = target.read_text() == "content the user keeps\n"
    assert unchanged and state.is_symlink()
    assert "pacing is off" in pacing.problem
    assert str(folder) in pacing.problem


def test_a_state_file_of_another_user_is_not_used(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    state = folder / os.path.basename(pacing_in(folder).state_file(BUCKET))
    state.write_text('{"remaining": 0}')
    os.chown(state, NOBODY, NOBODY)
    pacing = pacing_in(folder)
    assert one_request(pacing) == 0
    assert state.read_text() == '{"remaining": 0}'
    assert str(state) in pacing.problem and "another user" in pacing.problem


PLANTED = {
    "infinite-quota": '{"quota": Infinity, "remaining": 5, "reset_lo": 1700000000, "reset_hi": 1700000100}',
    "NaN-window-end": '{"remaining": 0, "reset_lo": NaN, "reset_hi": NaN, "window": NaN}',
    "NaN-block": '{"blocked_until": NaN}',
    "huge-inflight-pid": '{"inflight": {"x": [1e300, 1700000000]}}',
    "integer-pid-beyond-any": '{"inflight": {"x": [' + "9" * 40 + ', 1700000000]}}',
    "negative-pid": '{"inflight": {"x": [-1, 1700000000]}}',
    "NaN-sent": '{"inflight": {"x": [1, NaN]}}',
    "block-in-1e300-s": '{"blocked_until": 1e300}',
    "window-end-far-ahead": '{"remaining": 0, "reset_lo": 1e15, "reset_hi": 1e15, "window": 300}',
    "negative-remaining": '{"remaining": -5, "reset_lo": 1700000000, "reset_hi": 1700000100}',
    "numbers-as-strings": '{"quota": "1200", "remaining": "0", "reset_lo": "1700000000", "reset_hi": "1700000100"}',
    "booleans": '{"quota": true, "remaining": false, "reset_lo": 1700000000, "reset_hi": 1700000100}',
    "wrong-types": '{"quota": "many", "reset_hi": "soon", "inflight": "all", "headerless": "yes"}',
    "nested-garbage": '{"inflight": {"x": [[1, 2], {"a": [null]}], "y": []}, "quota": {"q": [1]}}',
    "a-list": '[1, 2, {"quota": 5}]',
    "deep-nesting": "[" * 100000 + "]" * 100000,
    "not-JSON": "\x00\xff garbage {",
    "not-UTF-8": b"\xff\xfe{\"quota\": 5}",
    "a-huge-file": '{"x": "' + "a" * 3_000_000 + '"}',
}


@pytest.mark.parametrize("content", list(PLANTED.values()), ids=list(PLANTED))
def test_absurd_numbers_and_garbage_in_the_state_file_count_as_corrupt_and_are_reset(tmp_path, content):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    state = folder / os.path.basename(pacing_in(folder).state_file(BUCKET))
    if isinstance(content, bytes):
        state.write_bytes(content)
    else:
        state.write_text(content)
    sleep = NoLongSleep()
    pacing = pacing_in(folder, sleep)
    assert one_request(pacing) == 0 and sleep.calls == []
    assert pacing.problem is None
    reset = strict_json(state.read_text())
    assert reset["remaining"] == 1100 and reset["quota"] == 1200 and reset["inflight"] == {}


def test_a_lock_held_by_another_process_is_waited_for_a_bounded_time_then_pacing_goes_off(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    state = folder / os.path.basename(pacing_in(folder).state_file(BUCKET))
    state.write_text("")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time\n"
         "f = open(sys.argv[1], 'r+')\n"
         "fcntl.flock(f, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\n"
         "time.sleep(120)\n", str(state)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        pacing = SharedPacing(str(folder), BASE_URL, max_wait=310.0)
        started = time.monotonic()
        waited = one_request(pacing)
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert waited == 0
    assert LOCK_WAIT - 0.1 <= took <= LOCK_WAIT + 5.0
    assert str(state) in pacing.problem and "lock" in pacing.problem and "pacing is off" in pacing.problem
    # Once off, the task's later calls do not wait for the lock again.
    started = time.monotonic()
    assert one_request(pacing) == 0 and time.monotonic() - started < 1.0
