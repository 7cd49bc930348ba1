"""A task is bounded in time (``timeout`` is a deadline for the whole attempt) and in the size of answer it
reads, and its messages say what happened: an unusable option, an empty answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from support.local_servers import ScriptedServer, fixed, large, trickle, trickle_headers
from support.playbooks import play, rotate_task
from support.results import load_result, save_result_task

SOME_TUNNEL = "0123456789abcdef" * 2
# The documented cap (docs and the connection options say 32 MiB).
CAP = 32 * 1024 * 1024


def failing_task(playbooks, server, saved, **options):
    task = {"name": "Rotate", "cloudflare.magic.ipsec_psk": dict(
        api_base_url=server.base_url, ipsec_tunnel_id=SOME_TUNNEL, retries=0, **options),
        "register": "rotation", "ignore_errors": True}
    run = playbooks.run(play(task, save_result_task(saved)))
    return run, load_result(saved)


def test_timeout_bounds_a_trickling_answer(playbooks, tmp_path):
    with ScriptedServer(trickle(every=2.0, limit=40.0)) as server:
        run, result = failing_task(playbooks, server, tmp_path / "r.json", timeout=5, retry_max_time=10)
    assert len(server.visits) == 1
    visit = server.visits[0]
    busy = visit["ended"] - visit["came"]
    assert busy <= 5 + 3, f"the attempt lasted {busy:.1f} s"
    assert result["failed"] is True
    assert "did not arrive in time" in result["msg"], result["msg"]
    assert "may have changed" in result["msg"], result["msg"]
    assert run.hits(playbooks.token) == 0


def test_timeout_bounds_trickling_headers():
    from ansible_collections.cloudflare.magic.plugins.module_utils._client import CloudflareClient, RetryPolicy
    from ansible_collections.cloudflare.magic.plugins.module_utils._errors import KeyStateUnknown
    from ansible_collections.cloudflare.magic.plugins.module_utils._options import Credentials

    with ScriptedServer(trickle_headers(every=0.5, limit=30.0)) as server:
        client = CloudflareClient(server.base_url, Credentials(api_token="t" * 40), timeout=2, validate_certs=True,
                                  ca_path=None, retry=RetryPolicy(0, 180.0, 310.0, 1.0, 30.0))
        started = time.monotonic()
        with pytest.raises(KeyStateUnknown) as caught:
            client.call("POST", "/accounts/x/magic/ipsec_tunnels/y/psk_generate", body={}, mutates=True)
        took = time.monotonic() - started
    assert took <= 2 + 3, f"the attempt lasted {took:.1f} s"
    assert "did not arrive in time" in str(caught.value)


def test_an_empty_answer_says_it_was_empty(playbooks, tmp_path):
    with ScriptedServer(fixed(200, b"")) as server:
        run, result = failing_task(playbooks, server, tmp_path / "r.json")
    assert result["failed"] is True
    assert "the answer was empty" in result["msg"], result["msg"]
    assert "envelope" not in result["msg"], result["msg"]


def test_an_overflowing_max_age_is_an_option_error_and_nothing_is_sent(playbooks, emulator, tmp_path):
    task = dict(rotate_task(emulator, ipsec_tunnel_id=emulator.seed["accounts"][0]["tunnels"][0]["id"],
                            max_age="99999999999d"), ignore_errors=True)
    run = playbooks.run(play(task, save_result_task(tmp_path / "r.json")))
    result = load_result(tmp_path / "r.json")
    assert result["failed"] is True
    assert result["msg"].startswith("max_age:"), result["msg"]
    assert "Unexpected" not in result["msg"]
    assert emulator.requests == []
    assert run.hits(playbooks.token) == 0


@pytest.mark.parametrize("option", ["timeout", "retry_backoff_max"])
def test_a_huge_duration_is_an_option_error_and_nothing_is_sent(playbooks, emulator, tmp_path, option):
    task = dict(rotate_task(emulator, ipsec_tunnel_id=emulator.seed["accounts"][0]["tunnels"][0]["id"],
                            **{option: 1e300}), ignore_errors=True)
    playbooks.run(play(task, save_result_task(tmp_path / "r.json")))
    result = load_result(tmp_path / "r.json")
    assert result["msg"].startswith(f"{option}:"), result["msg"]
    assert emulator.requests == []


# Runs the collection's client alone in a fresh Python, so that its peak memory is its own.
_MEASURE = textwrap.dedent("""
    import json, resource, sys
    from ansible_collections.cloudflare.magic.plugins.module_utils._client import CloudflareClient, RetryPolicy
    from ansible_collections.cloudflare.magic.plugins.module_utils._errors import CloudflareMagicError
    from ansible_collections.cloudflare.magic.plugins.module_utils._options import Credentials
    client = CloudflareClient(sys.argv[1], Credentials(api_token="t" * 40), timeout=60, validate_certs=True,
                              ca_path=None, retry=RetryPolicy(0, 180.0, 310.0, 1.0, 30.0))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        client.call("GET", "/accounts/x/magic/ipsec_tunnels")
        message = None
    except CloudflareMagicError as error:
        message = str(error)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"grew_kib": after - before, "message": message}))
""")


def measure(base_url):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", _MEASURE, base_url], capture_output=True, text=True, timeout=120,
                          env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_an_answer_larger_than_the_cap_is_refused_without_being_held():
    size = CAP + 1
    with ScriptedServer(large(size)) as server:
        seen = measure(server.base_url)
    assert seen["message"] is not None and "larger than the 32 MiB" in seen["message"], seen["message"]
    assert seen["grew_kib"] * 1024 < size / 8, seen


def test_an_endless_chunked_answer_is_cut_at_the_cap():
    size = 8 * CAP
    with ScriptedServer(large(size, chunked=True)) as server:
        seen = measure(server.base_url)
    assert seen["message"] is not None and "refused as unreadable" in seen["message"], seen["message"]
    # Held at most the cap (and the copy being grown), never the 256 MiB sent.
    assert seen["grew_kib"] * 1024 < 3 * CAP, seen


def test_a_list_of_5000_tunnels_is_read(tmp_path):
    """Well under the cap: the emulator's 5,005-tunnel list is about 2.7 MB."""
    from cf_emulator import Emulator, seed_with_tunnels

    with Emulator(seed=seed_with_tunnels(5000), tls=False) as emulator:
        script = _MEASURE.replace('Credentials(api_token="t" * 40)', f'Credentials(api_token="{emulator.token("magic_wan_write")}")')
        script = script.replace('"/accounts/x/magic/ipsec_tunnels"', f'"/accounts/{emulator.account_id}/magic/ipsec_tunnels"')
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        done = subprocess.run([sys.executable, "-c", script, emulator.base_url], capture_output=True, text=True,
                              timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["message"] is None
