# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every module of the collection shares: each runs on the controller through its action
plugin and belongs to the action group. Each module still documents check_mode and diff_mode itself."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  action:
    support: full
    details:
      - Runs on the controller; nothing is sent to the inventory host.
  async:
    support: none
  action_group:
    membership:
      - cloudflare.magic.magic
    details:
      - Set options once for every task of the collection with C(module_defaults) and
        C(group/cloudflare.magic.magic).
  bypass_host_loop:
    support: none
  platform:
    platforms: all
    support: full
    details:
      - Whatever the host's connection, the API is called from the controller.
"""
