"""TEST-ONLY: a roles path holding ``tunnel_psk`` made of the real platform files and a stand-in core.

Until the role's core is merged, ``lay_role(dest)`` builds ``dest/tunnel_psk`` from the repository's
roles/tunnel_psk (defaults, templates, tasks/<platform>) plus this folder's main.yml, and returns ``dest``
for ANSIBLE_ROLES_PATH.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "tunnel_psk"


def lay_role(dest):
    role = Path(dest) / "tunnel_psk"
    (role / "tasks").mkdir(parents=True, exist_ok=True)
    for part in ("defaults", "templates"):
        (role / part).symlink_to(ROLE / part)
    for platform in (ROLE / "tasks").iterdir():
        if platform.is_dir():
            (role / "tasks" / platform.name).symlink_to(platform)
    (role / "tasks" / "main.yml").symlink_to(Path(__file__).with_name("main.yml"))
    return Path(dest)
