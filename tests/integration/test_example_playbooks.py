"""The example playbooks in docs/examples parse against the real collections their tasks use (the VyOS and IOS XE
ones also run end to end: test_example_network_playbooks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("rotate_and_configure_*.yml"))
sys.path.insert(0, str(ROOT / "tests" / "tools"))

import network_collections  # noqa: E402


@pytest.fixture(scope="module")
def collections_path():
    try:
        network = network_collections.ensure(ROOT / ".venv" / "network-collections")
    except subprocess.CalledProcessError as error:
        pytest.skip(f"could not download the pinned ansible package for vyos.vyos/cisco.ios: {error}")
    return os.pathsep.join(p for p in (str(network), os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")) if p)


def test_the_examples_are_there():
    assert {p.name for p in EXAMPLES} >= {"rotate_and_configure_strongswan.yml", "rotate_and_configure_vyos.yml",
                                          "rotate_and_configure_ios_xe.yml", "rotate_and_configure_fortios.yml"}


@pytest.mark.parametrize("playbook", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_syntax_check_against_the_real_collections(playbook, collections_path, tmp_path):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_HOME=str(tmp_path),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check",
                           "-i", "localhost,", str(playbook)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("playbook", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_task_that_uses_the_key_has_no_log(playbook):
    import yaml

    for play in yaml.safe_load(playbook.read_text()):
        tasks = list(play.get("tasks", [])) + list(play.get("handlers", []))
        while tasks:
            task = tasks.pop()
            tasks.extend(task.get("block", []))
            if "rotation.psk }}" in yaml.safe_dump(task) or "rotation.psk |" in yaml.safe_dump(task):
                assert task.get("no_log") is True, f"{playbook.name}: {task.get('name')} passes the key without no_log"
