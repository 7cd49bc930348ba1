"""meta/execution-environment.yml as ansible-builder reads it: what it lists, and a build context."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
BUILDER = Path(sys.executable).parent / "ansible-builder"


def collection_tree(tmp_path):
    """A collections path holding this checkout as cloudflare.magic, as an installed collection would be."""
    namespace = tmp_path / "collections" / "ansible_collections" / "cloudflare"
    namespace.mkdir(parents=True)
    (namespace / "magic").symlink_to(ROOT, target_is_directory=True)
    return tmp_path / "collections"


def builder(*args, cwd):
    done = subprocess.run([str(BUILDER), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_introspect_lists_the_python_requirements_uncapped(tmp_path):
    found = yaml.safe_load(builder("introspect", str(collection_tree(tmp_path)), cwd=tmp_path))
    python = [line.split("#")[0].strip() for line in found["python"] if "cloudflare.magic" in line]
    names = {Requirement(line).name.lower(): Requirement(line) for line in python}
    assert set(names) == {"requests"}
    upper_caps = [str(r) for r in names.values() for s in r.specifier if s.operator in ("<", "<=", "==", "~=")]
    assert upper_caps == []
    assert [line for line in found["system"] if "cloudflare.magic" in line] == []


def test_create_writes_a_build_context_that_installs_the_collection(tmp_path):
    (tmp_path / "requirements.yml").write_text(yaml.safe_dump(
        {"collections": [{"name": str(ROOT), "type": "dir"}]}))
    (tmp_path / "execution-environment.yml").write_text(yaml.safe_dump({
        "version": 3,
        "images": {"base_image": {"name": "quay.io/ansible/awx-ee:latest"}},
        "dependencies": {"galaxy": "requirements.yml"},
    }))
    builder("create", "--file", "execution-environment.yml", "--context", "context", cwd=tmp_path)
    context = tmp_path / "context"
    # Containerfile for podman, Dockerfile when ansible-builder falls back to docker.
    containerfile = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()).read_text()
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect" in containerfile
    copied = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert copied["collections"][0]["name"] == str(ROOT)
