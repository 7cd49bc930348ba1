# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The version of an installed collection, as the controller would load it (the tunnel_psk role's preflight
checks the vendor collections it needs with it)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: collection_version
author: cloudflare.magic developers (@cloudflare-magic)
version_added: 0.1.0
short_description: The version of a collection the controller loads
description:
  - Returns, for each collection name given, the version of the copy Ansible would load on this controller (the
    first one on the collections search path, which is the playbook's C(collections/) folder, C(COLLECTIONS_PATHS),
    then the Python path, as with the C(ansible) package).
  - The version comes from the collection's C(MANIFEST.json) (an installed collection), else its C(galaxy.yml)
    (a source checkout). An empty string when the collection is not found or states no version.
  - The C(tunnel_psk) role uses it to refuse, before anything rotates, a vendor collection older than it needs.
options:
  _terms:
    description: Collection names, as C(namespace.name).
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Stop when cisco.ios is older than 11.4.0
  ansible.builtin.assert:
    that:
      - lookup('cloudflare.magic.collection_version', 'cisco.ios') is version('11.4.0', '>=')
"""

RETURN = r"""
_raw:
  description: One version string per name given (empty when the collection is not found).
  type: list
  elements: str
"""

import importlib
import json
import os
import re

import yaml
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

NAME = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")


def _version(name):
    try:
        package = importlib.import_module("ansible_collections." + name)
    except ImportError:
        return ""
    for folder in getattr(package, "__path__", []):
        manifest = os.path.join(folder, "MANIFEST.json")
        if os.path.isfile(manifest):
            with open(manifest, encoding="utf-8") as handle:
                return str(json.load(handle).get("collection_info", {}).get("version") or "")
        galaxy = os.path.join(folder, "galaxy.yml")
        if os.path.isfile(galaxy):
            with open(galaxy, encoding="utf-8") as handle:
                return str((yaml.safe_load(handle) or {}).get("version") or "")
    return ""


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        versions = []
        for term in terms:
            if not isinstance(term, str) or not NAME.match(term):
                raise AnsibleLookupError(
                    f"collection_version takes collection names as namespace.name (for example cisco.ios), not {term!r}")
            versions.append(_version(term))
        return versions
