# Sphinx configuration of the collection's docs site (build.sh). Made with antsibull-docs sphinx-init, then
# changed to build offline: the references antsibull-docs writes to Ansible's own docs (action plugins, common
# return values, configuration settings, vendor modules the role uses) resolve from a small local inventory of
# those pages, written below, instead of one fetched from docs.ansible.com at build time.
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

import importlib.util
import os
import tempfile
import zlib

project = "cloudflare.magic"
copyright = "cloudflare.magic contributors"
title = "cloudflare.magic collection documentation"
html_short_title = title

extensions = ["sphinx.ext.intersphinx", "sphinx_antsibull_ext"]
pygments_style = "ansible"
highlight_language = "YAML+Jinja"

# The theme docs.ansible.com uses, when installed; else Sphinx's own, so that the site builds without it too.
html_theme = "sphinx_ansible_theme" if importlib.util.find_spec("sphinx_ansible_theme") else "alabaster"

html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
# label -> (page under ANSIBLE_DOCS, title): every label of Ansible's docs that the generated pages refer to.
ANSIBLE_LABELS = {
    "action_plugins": ("plugins/action.html#action-plugins", "Action plugins"),
    "common_return_values": ("reference_appendices/common_return_values.html#common-return-values",
                             "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html#ansible-configuration-settings",
                                       "Ansible Configuration Settings"),
    "ansible_collections.vyos.vyos.vyos_config_module": (
        "collections/vyos/vyos/vyos_config_module.html#ansible-collections-vyos-vyos-vyos-config-module",
        "vyos.vyos.vyos_config module"),
    "ansible_collections.cisco.ios.ios_config_module": (
        "collections/cisco/ios/ios_config_module.html#ansible-collections-cisco-ios-ios-config-module",
        "cisco.ios.ios_config module"),
}


def _write_inventory(path):
    """A Sphinx inventory (version 2) of ANSIBLE_LABELS, as intersphinx reads it."""
    body = "".join(f"{label} std:label -1 {page} {text}\n" for label, (page, text) in sorted(ANSIBLE_LABELS.items()))
    head = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n" \
           "# The remainder of this file is compressed using zlib.\n"
    with open(path, "wb") as handle:
        handle.write(head.encode() + zlib.compress(body.encode()))


# build.sh names a file in its output folder; the source tree is never written.
_INVENTORY = os.environ.get("CLOUDFLARE_MAGIC_DOCSITE_INVENTORY") or os.path.join(
    tempfile.mkdtemp(prefix="cloudflare-magic-docsite-"), "ansible_devel.inv")
_write_inventory(_INVENTORY)
intersphinx_mapping = {"ansible_devel": (ANSIBLE_DOCS, _INVENTORY)}

default_role = "any"
nitpicky = True
