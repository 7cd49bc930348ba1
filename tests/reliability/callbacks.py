"""The callbacks of the loop matrix: how a run turns each one on, and what it left behind to search.

ansible.posix comes from the pinned ``ansible`` wheel (tests/tools/bundled_collections.py), extracted once
beside the primary venv and shared by every core line's venv; junit and tree ship with ansible-core.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tools"))

import bundled_collections  # noqa: E402

CALLBACK_COLLECTIONS = ("ansible/posix",)


@dataclass(frozen=True)
class Callback:
    name: str
    stdout: str = ""  # ANSIBLE_STDOUT_CALLBACK, when it replaces the default output
    folder_option: str = ""  # the variable naming the folder a notification callback writes into

    def environment(self, folder):
        """What turns this callback on for one run, writing (if it writes files) into ``folder``."""
        env = {"ANSIBLE_STDOUT_CALLBACK": self.stdout or None}
        if self.folder_option:
            env.update({"ANSIBLE_CALLBACKS_ENABLED": self.name, self.folder_option: str(folder)})
        return env


CALLBACKS = (
    Callback("default"),
    Callback("ansible.posix.json", stdout="ansible.posix.json"),
    Callback("ansible.posix.jsonl", stdout="ansible.posix.jsonl"),
    # junit (ansible-core's; community.general has none) names each test case after the task's
    # arguments, so the credentials stay in the environment.
    Callback("ansible.builtin.junit", folder_option="JUNIT_OUTPUT_DIR"),
    # tree is an "aggregate" callback: it runs with the default output once enabled, one file per host.
    Callback("ansible.builtin.tree", folder_option="ANSIBLE_CALLBACK_TREE_DIR"),
)


@dataclass(frozen=True)
class CallbackRun:
    """Callbacks that share one ansible-playbook run: at most one that replaces the standard output, and the
    notification callbacks (junit, tree), each writing into a folder of its own. What one callback shows does
    not depend on the others being on, so every cell of the run is as if it had run alone."""

    name: str
    callbacks: tuple

    def environment(self, folder):
        enabled = [c for c in self.callbacks if c.folder_option]
        env = {"ANSIBLE_STDOUT_CALLBACK": next((c.stdout for c in self.callbacks if c.stdout), None)}
        if enabled:
            env["ANSIBLE_CALLBACKS_ENABLED"] = ",".join(c.name for c in enabled)
            env.update({c.folder_option: str(Path(folder) / c.name) for c in enabled})
        return env

    def shown(self, stdout, folder):
        """{callback name: (the files it wrote, the text it showed)} after the run."""
        result = {}
        for callback in self.callbacks:
            files = written_files(Path(folder) / callback.name) if callback.folder_option else {}
            result[callback.name] = (files, "\n".join(files.values()) if callback.folder_option else stdout)
        return result


def callbacks_named(*names):
    return tuple(next(c for c in CALLBACKS if c.name == name) for name in names)


# The five callbacks in three runs: default's output with junit's and tree's files, then each JSON output.
CALLBACK_RUNS = (
    CallbackRun("default+junit+tree", callbacks_named("default", "ansible.builtin.junit", "ansible.builtin.tree")),
    CallbackRun("ansible.posix.json", callbacks_named("ansible.posix.json")),
    CallbackRun("ansible.posix.jsonl", callbacks_named("ansible.posix.jsonl")),
)


def collections_path():
    """ANSIBLE_COLLECTIONS_PATH with the callback collections in front of what the tests already use."""
    bundled = bundled_collections.ensure(ROOT / ".venv" / "callback-collections", CALLBACK_COLLECTIONS)
    return os.pathsep.join(p for p in (str(bundled), os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")) if p)


def written_files(folder):
    """{name: text} of every file a callback wrote under ``folder``."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file()}
