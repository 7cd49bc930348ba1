"""SharedPacing: forks that share one quota through a locked file, against the emulator's rate limit."""

from __future__ import annotations

import multiprocessing
import os

import pytest
from cf_emulator import Emulator

from ansible_collections.cloudflare.magic.plugins.module_utils._api import CloudflareClient
from ansible_collections.cloudflare.magic.plugins.module_utils._auth import Credentials
from ansible_collections.cloudflare.magic.plugins.module_utils._retry import RetryPolicy
from ansible_collections.cloudflare.magic.plugins.plugin_utils._pacing import SharedPacing, controller_pacing

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


def _calls(emu, directory, token, count):
    """One fork: ``count`` tasks in a row, each with its own client and pacing, as ansible runs them."""
    failures = 0
    for _unused in range(count):
        pacing = SharedPacing(str(directory), emu.base_url)
        client = CloudflareClient(emu.base_url, Credentials(api_token=token), ca_path=emu.ca_file,
                                  pacing=pacing, retry=RetryPolicy(retries=0))
        try:
            client.call("GET", f"/accounts/{emu.account_id}/magic/ipsec_tunnels")
        except Exception:  # noqa: BLE001 - counted; the parent asserts on the emulator's record
            failures += 1
        finally:
            pacing.close()
    os._exit(1 if failures else 0)


def test_forks_sharing_the_state_file_stay_under_the_quota(limited, tmp_path):
    token = limited.token("magic_wan_write")
    context = multiprocessing.get_context("fork")
    forks = [context.Process(target=_calls, args=(limited, tmp_path / "pacing", token, CALLS))
             for _unused in range(PROCESSES)]
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
        client = CloudflareClient(emu.base_url, Credentials(api_token=emu.token("magic_wan_write")),
                                  ca_path=emu.ca_file, retry=RetryPolicy(retries=0))
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
    client = CloudflareClient(limited.base_url, Credentials(api_token=limited.token("magic_wan_write")),
                              ca_path=limited.ca_file, pacing=pacing)
    assert isinstance(client.call("GET", f"/accounts/{limited.account_id}/magic/ipsec_tunnels"), dict)
    assert "pacing is off" in pacing.problem and str(blocker) in pacing.problem


def test_the_state_lives_beside_ansibles_per_run_temp_dir_and_is_named_per_endpoint(tmp_path):
    run_tmp = tmp_path / "tmp" / "ansible-local-1234abcd"
    one = controller_pacing(str(run_tmp), "https://api.example.test/client/v4")
    other = controller_pacing(str(run_tmp), "https://127.0.0.1:8443/client/v4")
    assert one.directory == str(tmp_path / "tmp" / "cloudflare_magic_ratelimit")
    assert one.state_file("b") != other.state_file("b") and one.state_file("b") != one.state_file("c")


def test_a_block_longer_than_rate_limit_max_wait_fails_at_once_without_sending(tmp_path):
    from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError

    slept = []
    first = SharedPacing(str(tmp_path), "https://api.example.test", max_wait=1.0, clock=lambda: 1000.0,
                         sleep=slept.append)
    first.before_request("b")
    first.observe("b", {"Ratelimit": '"default";r=0;t=300', "Retry-After": "300"}, 429)
    later = SharedPacing(str(tmp_path), "https://api.example.test", max_wait=1.0, clock=lambda: 1001.0,
                         sleep=slept.append)
    with pytest.raises(ApiError) as refused:
        later.before_request("b")
    assert refused.value.status == 429 and refused.value.retry_after == 299.0 and slept == []
