"""Test helpers around the example lab's playbook runner: plays of one task, and the seed's credentials."""

from __future__ import annotations

from lab import playbooks as lab
from lab.playbooks import BIN, Run, seed_account, seed_token

from support.router_python import router_python

__all__ = ["BIN", "PlaybookRunner", "Run", "seed_account", "seed_token", "rotate_task", "write_psk_task", "play"]


class PlaybookRunner(lab.PlaybookRunner):
    """The example lab's runner, whose one host (``-i localhost,``, the router of the plays) runs its modules under
    the interpreter the test inventories give their routers (``support.router_python``); the controller, and with
    it the collection's modules (action plugins), stays this venv's. A test's own ``env`` still wins."""

    def environment(self, **extra):
        return super().environment(**{"ANSIBLE_PYTHON_INTERPRETER": router_python(), **extra})


def rotate_task(emulator, **options):
    """A task of the module registering ``rotation``, trusting the emulator's CA unless told otherwise."""
    if emulator.ca_file and "ca_path" not in options and options.get("validate_certs", True):
        options["ca_path"] = emulator.ca_file
    return {"name": "Rotate", "cloudflare.magic.ipsec_psk": options, "register": "rotation"}


def write_psk_task(path):
    """A follow-on task, like a router's, that writes the key it received (and nothing else) to ``path``."""
    return {"name": "Hand the key to the router", "ansible.builtin.copy": {
        "content": "{{ rotation.psk }}", "dest": str(path), "mode": "0600"},
        "no_log": True, "when": "rotation.psk is defined"}


def play(*tasks, check=None):
    plays = [{"name": "Test play", "hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]
    if check is not None:
        plays[0]["check_mode"] = check
    return plays
