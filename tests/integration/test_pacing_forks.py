"""SharedPacing: forks that share one quota through a locked file, against the emulator's rate limit.

It forks processes and starts the HTTPS emulator, so it lives here rather than in tests/unit."""

from __future__ import annotations

import multiprocessing
import os

import pytest
from cf_emulator import Emulator

from support.fakes import DEFAULTS, policy

from ansible_collections.cloudflare.magic.plugins.module_utils._client import CloudflareClient
from ansible_collections.cloudflare.magic.plugins.module_utils._options import Credentials
from ansible_collections.cloudflare.magic.plugins.plugin_utils._pacing import SharedPacing

PROCESSES = 6
CALLS = 10
QUOTA = 20
WINDOW = 1.0


@pytest.fixture
def limited(tmp_path):
    emu = Emulator(tls=True, state_dir=str(tmp_path / "emulator"), ratelimit_quota=QUOTA,
                   ratelimit_window=WINDOW, ratelimit_block=30.0).start()
    try:
        yield emu
    finally:
        emu.stop()


def emulator_client(emu, token, pacing, **retry):
    return CloudflareClient(emu.base_url, Credentials(api_token=token), timeout=DEFAULTS["timeout"],
                            validate_certs=True, ca_path=emu.ca_file, retry=policy(**retry), pacing=pacing)


def _calls(base_url, ca_file, account_id, directory, token, count):
    """One worker process: ``count`` tasks in a row, each with its own client and pacing, as ansible runs them."""
    failures = 0
    for _unused in range(count):
        pacing = SharedPacing(str(directory), base_url)
        client = CloudflareClient(base_url, Credentials(api_token=token), timeout=DEFAULTS["timeout"],
                                  validate_certs=True, ca_path=ca_file, retry=policy(retries=0), pacing=pacing)
        try:
            client.call("GET", f"/accounts/{account_id}/magic/ipsec_tunnels")
        except Exception:  # noqa: BLE001 - counted; the parent asserts on the emulator's record
            failures += 1
        finally:
            pacing.close()
    os._exit(1 if failures else 0)


def test_forks_sharing_the_state_file_stay_under_the_quota(limited, tmp_path):
    token = limited.token("magic_wan_write")
    # Fresh interpreters ("spawn"): a fork of this process could inherit a lock held by one of the
    # emulator's server threads (or pytest-xdist's) and hang; Ansible's forks have no such threads.
    context = multiprocessing.get_context("spawn")
    args = (limited.base_url, limited.ca_file, limited.account_id, tmp_path / "pacing", token, CALLS)
    forks = [context.Process(target=_calls, args=args) for _unused in range(PROCESSES)]
    for fork in forks:
        fork.start()
    for fork in forks:
        fork.join(60)
    assert [f.exitcode for f in forks] == [0] * PROCESSES
    statuses = [r.status for r in limited.requests]
    assert len(statuses) == PROCESSES * CALLS and statuses.count(429) == 0
    times = sorted(r.time for r in limited.requests)
    assert times[-1] - times[0] >= (PROCESSES * CALLS // QUOTA - 1) * WINDOW - 0.05
    stored = "".join(p.read_text() for p in (tmp_path / "pacing").iterdir())
    assert stored and token not in stored and Credentials(api_token=token).bucket not in stored


def test_without_pacing_going_over_the_quota_is_refused(tmp_path):
    """The control case: the emulator does refuse what the pacing avoids (a long window, so load cannot hide it)."""
    with Emulator(tls=True, state_dir=str(tmp_path / "emulator"), ratelimit_quota=QUOTA, ratelimit_window=600,
                  ratelimit_block=600) as emu:
        client = emulator_client(emu, emu.token("magic_wan_write"), None, retries=0)
        for _unused in range(QUOTA + 1):
            try:
                client.call("GET", f"/accounts/{emu.account_id}/magic/ipsec_tunnels")
            except Exception:  # noqa: BLE001 - the last one is refused
                pass
        assert [r.status for r in emu.requests].count(429) == 1


def test_an_unusable_directory_turns_pacing_off_with_a_reason_and_never_fails_the_call(limited, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    pacing = SharedPacing(str(blocker / "pacing"), limited.base_url)
    client = emulator_client(limited, limited.token("magic_wan_write"), pacing)
    assert isinstance(client.call("GET", f"/accounts/{limited.account_id}/magic/ipsec_tunnels"), dict)
    assert "pacing is off" in pacing.problem and str(blocker) in pacing.problem
