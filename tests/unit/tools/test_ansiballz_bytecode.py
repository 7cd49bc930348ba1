"""tests/tools/ansiballz_bytecode.py: what a process importing from a payload zip, or a collection through
ansible-core's collection loader, compiles, loads and shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest

HOOK = Path(__file__).resolve().parents[2] / "tools" / "ansiballz_bytecode.py"

SAMPLE = '''\
def where():
    raise RuntimeError("from the sample")

ANSWER = 6 * 7
'''

# Imports ansible.sample (and other.plain) from ZIP in a fresh interpreter with the hook installed on FOLDER,
# counting the sources that zipimport compiled; SEEN prints what the process saw.
PROBE = '''\
import json, sys, traceback, zipimport
compiled = []
real_compile = compile
def counting_compile(source, filename, *args, **kwargs):
    compiled.append(filename.rpartition(".zip/")[2])
    return real_compile(source, filename, *args, **kwargs)
zipimport.compile = counting_compile
if FOLDER is not None:
    sys.path.insert(0, HOOK_DIR)
    import ansiballz_bytecode
    ansiballz_bytecode.install_hook(FOLDER)
sys.path.insert(0, ZIP)
def load():
    import ansible.sample
    import other.plain
    return ansible.sample
'''

# The end of the probes that load the sample: what they saw of it, as JSON (``load`` and ``compiled`` are theirs).
SEEN = '''\
seen = {}
try:
    sample = load()
    seen["answer"] = sample.ANSWER
    try:
        sample.where()
    except RuntimeError:
        seen["traceback"] = traceback.format_exc()
except SyntaxError as error:
    seen["syntax_error"] = str(error)
seen["compiled"] = compiled
print(json.dumps(seen))
'''


def payload(folder, sample=SAMPLE):
    """An AnsiballZ-like payload zip: ansible/ (kept by the cache) and other/ (never kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ansible_probe_payload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ansible/__init__.py", "")
        archive.writestr("ansible/sample.py", sample)
        archive.writestr("other/__init__.py", "")
        archive.writestr("other/plain.py", "VALUE = 1\n")
    return path


def run_probe(body, folder, **constants):
    """Run the probe ``body`` in a fresh interpreter, with FOLDER, HOOK_DIR and ``constants`` defined; its JSON."""
    values = {**constants, "FOLDER": None if folder is None else str(folder), "HOOK_DIR": str(HOOK.parent)}
    code = "".join(f"{name} = {value!r}\n" for name, value in values.items()) + body
    # The switch keeps the hook of this venv's own .pth (make venv installs it) out of the probe.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                          env={**os.environ, "CFM_ANSIBALLZ_BYTECODE": "off"})
    return json.loads(done.stdout)


def probe(zip_path, folder):
    return run_probe(PROBE + SEEN, folder, ZIP=str(zip_path))


def test_the_second_process_loads_what_the_first_compiled_and_its_traceback_names_its_own_zip(tmp_path):
    cache = tmp_path / "cache"
    first = probe(payload(tmp_path / "run1"), cache)
    second_zip = payload(tmp_path / "run2")
    second = probe(second_zip, cache)

    assert first["answer"] == second["answer"] == 42
    # zipimport compiles a source twice per import (get_filename compiles it too); the cache serves the second.
    assert Counter(first["compiled"]) == {"ansible/__init__.py": 1, "ansible/sample.py": 1,
                                          "other/__init__.py": 2, "other/plain.py": 2}
    assert Counter(second["compiled"]) == {"other/__init__.py": 2, "other/plain.py": 2}  # ansible/: the cache's
    assert len(os.listdir(cache)) == 2
    assert f"{second_zip}/ansible/sample.py" in second["traceback"]
    assert "run1" not in second["traceback"]
    assert second["traceback"] == first["traceback"].replace("run1", "run2")


def test_without_the_hook_every_process_compiles_everything(tmp_path):
    seen = probe(payload(tmp_path / "run1"), None)
    again = probe(payload(tmp_path / "run2"), None)
    assert Counter(seen["compiled"]) == Counter(again["compiled"]) == {
        "ansible/__init__.py": 2, "ansible/sample.py": 2, "other/__init__.py": 2, "other/plain.py": 2}


def test_a_damaged_entry_is_compiled_again_and_replaced(tmp_path):
    cache = tmp_path / "cache"
    probe(payload(tmp_path / "run1"), cache)
    for entry in cache.iterdir():
        entry.write_bytes(b"\x00not marshal data")
    seen = probe(payload(tmp_path / "run2"), cache)
    assert seen["answer"] == 42
    assert "ansible/sample.py" in seen["compiled"]
    third = probe(payload(tmp_path / "run3"), cache)
    assert "ansible/sample.py" not in third["compiled"]


def test_a_changed_source_is_not_served_the_old_code(tmp_path):
    cache = tmp_path / "cache"
    probe(payload(tmp_path / "run1"), cache)
    seen = probe(payload(tmp_path / "run2", SAMPLE.replace("6 * 7", "6 * 9")), cache)
    assert seen["answer"] == 54
    assert "ansible/sample.py" in seen["compiled"]


def test_a_syntax_error_is_raised_as_without_the_hook(tmp_path):
    broken = SAMPLE + "def (:\n"
    with_hook = probe(payload(tmp_path / "run1", broken), tmp_path / "cache")
    without = probe(payload(tmp_path / "run1", broken), None)
    assert with_hook["syntax_error"] == without["syntax_error"]
    assert "invalid syntax" in with_hook["syntax_error"]


def test_a_folder_others_can_write_to_is_not_used(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    probe(payload(tmp_path / "run1"), cache)
    seen = probe(payload(tmp_path / "run2"), cache)
    assert list(cache.iterdir()) == []
    assert len(seen["compiled"]) == 8


@pytest.mark.parametrize("switch, installed", [(None, True), ("off", False)])
def test_installed_in_a_venv_every_process_of_it_has_the_hook_unless_switched_off(tmp_path, switch, installed):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, str(HOOK), "--install", str(venv)], check=True, timeout=60)
    env = {**os.environ, "CFM_ANSIBALLZ_BYTECODE": switch} if switch else {
        k: v for k, v in os.environ.items() if k != "CFM_ANSIBALLZ_BYTECODE"}
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import sys, zipimport; print(getattr(zipimport._compile_source, 'cfm_cached', False), sys.prefix)"],
        capture_output=True, text=True, timeout=60, check=True, env=env)
    hooked, prefix = done.stdout.split()
    assert hooked == str(installed)
    assert Path(prefix) == venv
    # Compiled at install: with PYTHONDONTWRITEBYTECODE set, import would compile it again in every process.
    assert len(list(venv.glob("lib/python*/site-packages/__pycache__/_cfm_ansiballz_bytecode.*.pyc"))) == 1
    waiting = subprocess.run(  # for ansible-core's collection loader, imported later
        [str(venv / "bin" / "python"), "-c",
         "import sys; print(any(type(f).__name__ == '_PatchOnImport' for f in sys.meta_path))"],
        capture_output=True, text=True, timeout=60, check=True, env=env)
    assert waiting.stdout.strip() == str(installed)


# The start of the probes that count what a fresh interpreter compiles through builtins.compile (the cache's own
# compile calls the built-in it found: this counter) for file names holding COUNTED, with the compile hooks installed
# on FOLDER (or not); a collection's path is counted from its ansible_collections/.
COUNTING_HEAD = '''\
import builtins, dataclasses, json, sys, traceback
compiled = []
real_compile = builtins.compile
def counting_compile(source, filename, *args, **kwargs):
    if COUNTED in str(filename):
        compiled.append(str(filename).rpartition("ansible_collections/")[2])
    return real_compile(source, filename, *args, **kwargs)
builtins.compile = counting_compile
if FOLDER is not None:
    sys.path.insert(0, HOOK_DIR)
    import ansiballz_bytecode
    ansiballz_bytecode.install_compile_hooks(FOLDER)
'''


# Imports ansible_collections.ns.col's module_utils `sample` from COLLECTIONS through ansible-core's collection
# loader in a fresh interpreter, with the compile hooks installed on FOLDER (or not), counting the collection
# sources compiled; SEEN prints what the process saw.
COLLECTION_PROBE = COUNTING_HEAD + '''\
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[COLLECTIONS])._install()
def load():
    from ansible_collections.ns.col.plugins.module_utils import sample
    return sample
'''


def collection(folder, sample=SAMPLE):
    """A collections path holding ns.col with plugins/module_utils/sample.py."""
    utils = folder / "ansible_collections" / "ns" / "col" / "plugins" / "module_utils"
    utils.mkdir(parents=True, exist_ok=True)
    (utils / "sample.py").write_text(sample)
    return folder


def collection_probe(path, folder):
    return run_probe(COLLECTION_PROBE + SEEN, folder, COLLECTIONS=str(path), COUNTED="ansible_collections")


SAMPLE_SOURCE = "ns/col/plugins/module_utils/sample.py"


def test_a_collection_source_compiled_by_one_process_is_loaded_by_the_next_naming_its_own_path(tmp_path):
    cache = tmp_path / "cache"
    first = collection_probe(collection(tmp_path / "run1"), cache)
    second_path = collection(tmp_path / "run2")
    second = collection_probe(second_path, cache)

    assert first["answer"] == second["answer"] == 42
    assert SAMPLE_SOURCE in first["compiled"]
    assert SAMPLE_SOURCE not in second["compiled"], "the second process compiled what the cache holds"
    assert f"{second_path}/ansible_collections/{SAMPLE_SOURCE}" in second["traceback"]
    assert "run1" not in second["traceback"]
    assert second["traceback"] == first["traceback"].replace("run1", "run2")


def test_without_the_collection_hook_every_process_compiles_the_collection_again(tmp_path):
    seen = collection_probe(collection(tmp_path / "run1"), None)
    again = collection_probe(collection(tmp_path / "run2"), None)
    assert SAMPLE_SOURCE in seen["compiled"] and SAMPLE_SOURCE in again["compiled"]


def test_a_changed_collection_source_is_not_served_the_old_code(tmp_path):
    cache = tmp_path / "cache"
    collection_probe(collection(tmp_path / "run1"), cache)
    seen = collection_probe(collection(tmp_path / "run2", SAMPLE.replace("6 * 7", "6 * 9")), cache)
    assert seen["answer"] == 54
    assert SAMPLE_SOURCE in seen["compiled"]


def test_a_syntax_error_in_a_collection_is_raised_as_without_the_hook(tmp_path):
    broken = SAMPLE + "def (:\n"
    with_hook = collection_probe(collection(tmp_path / "run1", broken), tmp_path / "cache")
    without = collection_probe(collection(tmp_path / "run1", broken), None)
    assert with_hook["syntax_error"] == without["syntax_error"]
    assert "invalid syntax" in with_hook["syntax_error"]


# Renders TEMPLATE with Jinja in a fresh interpreter, with the compile hooks installed on FOLDER (or not), counting
# the templates Jinja compiled, and prints what the process saw as JSON.
JINJA_PROBE = COUNTING_HEAD + '''\
import jinja2
environment = jinja2.Environment()
seen = {"rendered": environment.from_string(TEMPLATE).render(items=[1, 2, 3])}
try:
    environment.from_string("{{ 1 / 0 }}").render()
except ZeroDivisionError:
    import traceback
    seen["traceback_names_the_template"] = 'File "<template>", line 1' in traceback.format_exc()
seen["compiled"] = len(compiled)
print(json.dumps(seen))
'''


def jinja_probe(template, folder):
    return run_probe(JINJA_PROBE, folder, TEMPLATE=template, COUNTED="<template>")


def test_a_template_jinja_compiled_in_one_process_is_loaded_by_the_next_and_renders_the_same(tmp_path):
    template = "{% for i in items %}{{ i * 2 }},{% endfor %}"
    first = jinja_probe(template, tmp_path / "cache")
    second = jinja_probe(template, tmp_path / "cache")
    without = jinja_probe(template, None)
    assert first["rendered"] == second["rendered"] == without["rendered"] == "2,4,6,"
    # Two templates, and the line jinja2.debug compiles to rewrite the ZeroDivisionError's traceback (not cached).
    assert (first["compiled"], second["compiled"], without["compiled"]) == (3, 1, 3)
    assert first["traceback_names_the_template"] and second["traceback_names_the_template"]
    changed = jinja_probe(template.replace("* 2", "* 3"), tmp_path / "cache")
    assert (changed["rendered"], changed["compiled"]) == ("3,6,9,", 2)


# Defines the dataclass CLASS_SOURCE in a fresh interpreter, with the compile hooks installed on FOLDER (or not),
# counting the sources dataclasses compiled through the cache's compile, and prints what the process saw as JSON:
# the class's behaviour, and exec's own defaults (the caller's namespaces) through the hook.
DATACLASS_PROBE = COUNTING_HEAD + '''\
namespace = {"dataclasses": dataclasses}
exec(CLASS_SOURCE, namespace)
Point = namespace["Point"]
seen = {"repr": repr(Point(1)), "equal": Point(1) == Point(1), "hashed": hash(Point(1)) == hash(Point(1)),
        "signature": Point.__doc__}
try:
    Point(1).x = 2
except dataclasses.FrozenInstanceError:
    seen["frozen"] = True
run = getattr(dataclasses, "exec", exec)  # without the hook, dataclasses has none of its own
def in_a_function():
    value = 1
    run("value = 2; other = value")  # the caller's locals, as locals() gives them
    return value
seen["function_local"] = in_a_function()
run("module_level = 3")  # the caller's globals
seen["module_level"] = globals().get("module_level")
seen["compiled"] = len(compiled)
seen["patched"] = getattr(run, "cfm_cached", False)
print(json.dumps(seen))
'''

POINT = """\
@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    label: str = "a"
"""


def dataclass_probe(source, folder):
    return run_probe(DATACLASS_PROBE, folder, CLASS_SOURCE=source, COUNTED="<string>")


def test_a_dataclass_compiled_in_one_process_is_loaded_by_the_next_and_behaves_the_same(tmp_path):
    first = dataclass_probe(POINT, tmp_path / "cache")
    second = dataclass_probe(POINT, tmp_path / "cache")
    without = dataclass_probe(POINT, None)
    assert first.pop("patched") and second.pop("patched") and not without.pop("patched")
    # dataclasses' methods (one text in 3.13, one per method before): through the cache in the first process, not
    # in the second; the probe's own two calls of exec too.
    assert first["compiled"] >= 3 and second["compiled"] == 0
    assert without["compiled"] == 0  # the built-in exec compiles without builtins.compile
    for seen in (first, second, without):
        seen.pop("compiled")
    assert first == second == without == {
        "repr": "Point(x=1, label='a')", "equal": True, "hashed": True, "signature": without["signature"],
        "frozen": True, "function_local": 1, "module_level": 3}
    assert without["signature"].startswith("Point(x: int, label: str = 'a')")
    # A default's value is not in the text dataclasses compiles (it is passed in): the kept code, the new value.
    default = dataclass_probe(POINT.replace('"a"', '"b"'), tmp_path / "cache")
    assert (default["repr"], default["compiled"]) == ("Point(x=1, label='b')", 0)
    another_field = dataclass_probe(POINT + "    y: int = 0\n", tmp_path / "cache")
    assert another_field["repr"] == "Point(x=1, label='a', y=0)" and another_field["compiled"] > 0


# A sitecustomize for ansible-playbook runs: installs this file's plugin preload unless NO_PRELOAD is set, and logs
# every plugin file ansible-core's loader loads, with whether a forked task worker loaded it.
PRELOAD_SITE = '''\
import importlib.util, os, sys
if sys.argv and sys.argv[0].endswith("ansible-playbook"):
    if not os.environ.get("NO_PRELOAD"):
        sys.path.insert(0, os.environ["HOOK_DIR"])
        import ansiballz_bytecode
        ansiballz_bytecode.install_plugin_preload()
    forked = []
    os.register_at_fork(after_in_child=lambda: forked.append(True))
    located = importlib.util.spec_from_file_location
    def logging_spec(name, location=None, *args, **kwargs):
        with open(os.environ["LOAD_LOG"], "a") as log:  # e.g. "worker filter_plugins/beside.py"
            log.write("%s %s\\n" % ("worker" if forked else "parent", "/".join(str(location).split(os.sep)[-2:])))
        return located(name, location, *args, **kwargs)
    importlib.util.spec_from_file_location = logging_spec
'''

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.debug: {msg: "{{ [1] | to_json }} {{ 3 | doubled }}"}
    - ansible.builtin.debug: {msg: "{{ '2.1' is version('2.0', '>') }}"}
    - ansible.builtin.include_role: {name: late}
    - ansible.builtin.debug: {msg: "{{ 7 | tripled }}"}
"""


def filters(name, expression):
    return f"class FilterModule:\n    def filters(self):\n        return {{{name!r}: lambda value: {expression}}}\n"


def playbook_run(tmp_path, preload):
    """The playbook above (a filter beside it, a role with its own, added when the play includes the role), run
    with or without the preload: the messages it printed, and who loaded which plugin file."""
    (tmp_path / "filter_plugins").mkdir(exist_ok=True)
    (tmp_path / "filter_plugins" / "beside.py").write_text(filters("doubled", "value * 2"))
    for folder, text in (("filter_plugins/late.py", filters("tripled", "value * 3")),
                         ("tasks/main.yml", '- ansible.builtin.debug: {msg: "{{ 5 | tripled }} {{ 2 | doubled }}"}\n')):
        (tmp_path / "roles" / "late" / folder).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "roles" / "late" / folder).write_text(text)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(PRELOAD_SITE)
    log = tmp_path / f"loads-{preload}.log"
    env = {**os.environ, "PYTHONPATH": str(site), "HOOK_DIR": str(HOOK.parent), "LOAD_LOG": str(log),
           "CFM_ANSIBALLZ_BYTECODE": "off", "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_NOCOLOR": "1"}
    env.pop("NO_PRELOAD", None)
    if not preload:
        env["NO_PRELOAD"] = "1"
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "play.yml"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True)
    messages = [line.strip() for line in done.stdout.splitlines() if '"msg":' in line]
    return messages, Counter(log.read_text().splitlines())


def test_with_the_preload_task_workers_inherit_the_filter_and_test_plugins_and_templates_render_the_same(tmp_path):
    with_preload, loaded = playbook_run(tmp_path, True)
    without, loaded_without = playbook_run(tmp_path, False)
    assert with_preload == without
    # (Before 2.19, a template's result is text: "21".)
    assert [line.replace('"', "") for line in with_preload] == ["msg: [1] 6", "msg: true", "msg: 15 4", "msg: 21"]
    # Without it, every worker whose template names a filter loads ansible.builtin's filter files again.
    assert loaded_without["worker filter/core.py"] == 3, loaded_without
    assert loaded_without["parent filter/core.py"] == 0
    assert loaded_without["worker filter_plugins/late.py"] == 2  # the included role's, after the include
    # With it, the play's process loads them before a worker starts, the role's filter too once the include added
    # its folder (the loader forgot its list then, as without the hook, and read the files it had again), and no
    # worker loads a filter or test file.
    files = ("filter/core.py", "test/core.py", "filter_plugins/beside.py", "filter_plugins/late.py")
    assert {name: loaded[f"parent {name}"] for name in files} == dict.fromkeys(files, 1), loaded
    assert not [name for name in loaded if name.startswith(("worker filter", "worker test"))], loaded
