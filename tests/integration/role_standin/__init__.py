"""TEST-ONLY: a roles path holding ``tunnel_psk``, for platform tests written before the role's core merged.

``lay_role(dest)`` returns the repository's roles/ once roles/tunnel_psk/tasks/main.yml (the core) is there;
until then it builds ``dest/tunnel_psk`` from the repository's defaults, templates and tasks/<platform> plus
this folder's main.yml (a stand-in core) and returns ``dest``. Either is for ANSIBLE_ROLES_PATH.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "tunnel_psk"


def lay_role(dest):
    if (ROLE / "tasks" / "main.yml").exists():
        return ROLE.parent
    role = Path(dest) / "tunnel_psk"
    (role / "tasks").mkdir(parents=True, exist_ok=True)
    for part in ("defaults", "templates"):
        (role / part).symlink_to(ROLE / part)
    for platform in (ROLE / "tasks").iterdir():
        if platform.is_dir():
            (role / "tasks" / platform.name).symlink_to(platform)
    (role / "tasks" / "main.yml").symlink_to(Path(__file__).with_name("main.yml"))
    return Path(dest)
