"""SharedPacing without processes or sockets: where its state lives, and a block it knows of."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._client import read_rate_limit
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError
from ansible_collections.cloudflare.magic.plugins.plugin_utils._pacing import SharedPacing, controller_pacing


def connection(base_url):
    return SimpleNamespace(base_url=base_url, options={"rate_limit_max_wait": 310.0})


def test_the_state_lives_beside_ansibles_per_run_temp_dir_and_is_named_per_endpoint(tmp_path):
    run_tmp = tmp_path / "tmp" / "ansible-local-1234abcd"
    one = controller_pacing(str(run_tmp), connection("https://api.example.test/client/v4"))
    other = controller_pacing(str(run_tmp), connection("https://127.0.0.1:8443/client/v4"))
    assert one.directory == str(tmp_path / "tmp" / "cloudflare_magic_ratelimit")
    assert one.state_file("b") != other.state_file("b") and one.state_file("b") != one.state_file("c")


def test_a_block_longer_than_rate_limit_max_wait_fails_at_once_without_sending(tmp_path):
    slept = []
    first = SharedPacing(str(tmp_path), "https://api.example.test", max_wait=1.0, clock=lambda: 1000.0,
                         sleep=slept.append)
    first.before_request("b")
    first.observe("b", read_rate_limit({"Ratelimit": '"default";r=0;t=300', "Retry-After": "300"}), 429)
    later = SharedPacing(str(tmp_path), "https://api.example.test", max_wait=1.0, clock=lambda: 1001.0,
                         sleep=slept.append)
    with pytest.raises(ApiError) as refused:
        later.before_request("b")
    assert refused.value.status == 429 and refused.value.retry_after == 299.0 and slept == []
