#!/usr/bin/python
# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ipsec_psk_bulk
short_description: Set the pre-shared keys of many Cloudflare Magic IPsec tunnels in one request
version_added: 0.1.0
description:
  - Sets new pre-shared keys (PSKs) for many Magic IPsec tunnels with
    C(POST /accounts/{account_id}/magic/ipsec_tunnels/psk), one request per O(batch_size) tunnels, and
    returns each key so that the next tasks can configure every router.
  - The keys are made by the collection (32 random bytes from Python's C(secrets), URL-safe base64,
    43 characters, like the keys Cloudflare generates) or come from O(psks), for keys from your own
    vault or HSM. Cloudflare puts an applied key in force at once and never shows it again.
  - One rotation of 1,000 tunnels costs a tunnel list and 10 requests, where
    M(cloudflare.magic.ipsec_psk) costs 1,000 requests and, under Cloudflare's quota of 1,200 requests
    per 5 minutes, at least about 250 seconds.
  - When an answer is lost on the way (a dropped connection, a timeout, a 5xx), the same request, with
    the same keys, is sent again within the retry options. That is safe here because the keys are ours;
    sending them again sets the same keys, so the tunnels converge on the keys the task hands on. If no
    attempt succeeds, the task fails; each tunnel of that batch then holds either its old key or the key
    sent, and a rerun (with O(router_psk_generated_on)) rotates it again.
  - Cloudflare may apply some keys of a request and refuse others (RV(unapplied)). The task does not
    fail then, because every applied key is in force and must reach its router; it warns, naming the
    refused tunnels, unless O(fail_on_unapplied) is set.
  - Every key is hidden from every display of the task's result (all verbosities, C(log_path),
    callbacks, AWX job events) without C(no_log) on the task, while C(register) keeps them for the next
    tasks. Those tasks must set C(no_log) to V(true) themselves; see the examples.
  - In check mode the request is sent with C(validate_only=true). Cloudflare validates the credentials,
    the account, the tunnels and the keys, and sets nothing; no key is returned.
  - Requests are paced like M(cloudflare.magic.ipsec_psk)'s, by Cloudflare's rate-limit headers.
author:
  - cloudflare.magic developers (@cloudflare-magic)
extends_documentation_fragment:
  - cloudflare.magic.connection
  - cloudflare.magic.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
options:
  ipsec_tunnel_ids:
    description:
      - The tunnels' identifiers, each 32 hexadecimal characters.
      - Exactly one of O(ipsec_tunnel_ids) and O(ipsec_tunnel_names) is required.
      - An identifier that is not in the account's tunnel list fails the task before any key is set.
    type: list
    elements: str
  ipsec_tunnel_names:
    description:
      - The tunnels' names, looked up in the account's tunnel list.
      - If a name matches no tunnel or more than one, the task fails and no key is set.
    type: list
    elements: str
  psks:
    description:
      - Keys to set instead of generated ones, keyed by tunnel id or name. Tunnels not listed get a
        generated key.
      - Each key must be a string of at least 16 characters, without control characters and without white
        space at either end; otherwise the task fails before any request, naming the tunnel, not the key.
        The minimum is explained under O(cloudflare.magic.ipsec_psk#module:psk).
      - Each tunnel may be keyed once. A tunnel keyed by its name and by its id fails the task before any key
        is set, so that neither key wins unnoticed.
    type: dict
  max_age:
    description:
      - Set a new key only for tunnels whose key is older than this, or whose age is unknown; the others
        are listed in RV(skipped_tunnels) and left out of the request.
      - A whole number followed by V(d), V(h), V(m) or V(s) (V(90d), V(12h), V(30m)), or a number of seconds,
        of at most 36500 days; anything else fails the task before any request.
      - An age under one hour fails the task before any request, unless O(allow_short_max_age) is set; a value such
        as V(90) (seconds, meant as days) or V(3m) (minutes, meant as months) would rotate at nearly every run.
    type: str
  allow_short_max_age:
    description:
      - Accept a O(max_age) under one hour (for a lab or a test that forces rotations).
    type: bool
    default: false
  router_psk_generated_on:
    description:
      - For each tunnel (by id or name), the C(psk_metadata.last_generated_on) that its router recorded
        when it last received a key, or an empty string when the router holds no key from this collection.
      - A tunnel whose router stamp is not the same instant as Cloudflare's gets a new key whatever
        O(max_age) says. Tunnels not listed are decided by O(max_age) alone.
      - Each value must be an RFC 3339 time, read as O(cloudflare.magic.ipsec_psk#module:router_psk_generated_on)
        reads it. An unquoted timestamp, V(t) and V(z) in lower case, or a space for V(T) are accepted. Each
        value is checked before any request.
      - Each tunnel may be keyed once, by its id or by its name.
    type: dict
  batch_size:
    description:
      - The most tunnels set by one request, from 1 to 1000.
      - Cloudflare documents no largest batch. The default keeps each request small (a lost answer
        re-sends little) while 1,000 tunnels still take only 10 requests.
    type: int
    default: 100
  fail_on_unapplied:
    description:
      - Fail the task when Cloudflare refused any key. The result, with every applied key, is still
        registered, so that a play can hand those keys on before it stops (C(ignore_errors), or a
        later C(fail)).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details:
      - Sends each batch with C(validate_only=true); RV(rotated) lists the tunnels a real run would set,
        without keys.
  diff_mode:
    support: none
seealso:
  - module: cloudflare.magic.ipsec_psk
  - name: Cloudflare API, Set Pre-Shared Keys (PSK) for IPsec tunnels
    description: The endpoint this module calls.
    link: https://developers.cloudflare.com/api/resources/magic_transit/subresources/ipsec_tunnels/
"""

EXAMPLES = r"""
- name: Rotate the keys of every router's tunnel in one request (credentials from the environment)
  cloudflare.magic.ipsec_psk_bulk:
    ipsec_tunnel_names: "{{ ansible_play_hosts | map('extract', hostvars, 'cloudflare_tunnel_name') | list }}"
    max_age: 90d
  run_once: true
  register: fleet

- name: Hand each router its own key (no_log, because this task's arguments hold the key)
  ansible.builtin.template:
    src: swanctl.conf.j2   # uses fleet.rotated[tunnel_id].psk and .ipsec_id
    dest: /etc/swanctl/conf.d/cloudflare.conf
    mode: "0600"
  no_log: true
  when: hostvars[inventory_hostname].cloudflare_tunnel_id in fleet.rotated

- name: Set keys that come from our own vault
  cloudflare.magic.ipsec_psk_bulk:
    ipsec_tunnel_ids:
      - 023e105f4ecef8ad9ca31a8372d0c353
    psks:
      023e105f4ecef8ad9ca31a8372d0c353: "{{ vault_tunnel_psk }}"
  register: fleet

- name: Check that the keys could be set, without setting them (also what --check does)
  cloudflare.magic.ipsec_psk_bulk:
    ipsec_tunnel_names: [tunnel_nyc_01, tunnel_lon_01]
  check_mode: true
"""

RETURN = r"""
rotated:
  description:
    - The tunnels whose keys were set, by tunnel id. Every key listed here is in force at Cloudflare.
    - Hidden from every display of the result; use the keys only in tasks whose C(no_log) is V(true).
  returned: always (empty when nothing was set)
  type: dict
  sample:
    023e105f4ecef8ad9ca31a8372d0c353:
      psk: "********"
      ipsec_id: 023e105f4ecef8ad9ca31a8372d0c353.33145236.ipsec.cloudflare.com
      ipsec_tunnel_id: 023e105f4ecef8ad9ca31a8372d0c353
      name: tunnel_nyc_01
      psk_metadata:
        last_generated_on: "2026-11-26T10:48:15.953887008Z"
  contains:
    psk:
      description: The key now in force (not in check mode).
      type: str
      returned: not in check mode
    ipsec_id:
      description: The IKE identity the router must present, as Cloudflare gives it.
      type: str
      returned: when Cloudflare's answer holds it
    ipsec_tunnel_id:
      description: The tunnel's identifier.
      type: str
      returned: always
    name:
      description: The tunnel's name, from the account's tunnel list.
      type: str
      returned: when the tunnel is in the list
    psk_metadata:
      description: When the key was set (C(last_generated_on)); what the router should record beside it.
      type: dict
      returned: not in check mode
    tunnel:
      description:
        - The tunnel object from the account's tunnel list (never with a key), with C(psk_metadata) brought
          up to date; it holds what a router needs besides the key (C(cloudflare_endpoint),
          C(customer_endpoint), C(interface_address), C(replay_protection)), as RV(cloudflare.magic.ipsec_psk#module:tunnel) does.
      type: dict
      returned: when the tunnel is in the list
unapplied:
  description:
    - The tunnels whose keys Cloudflare refused, by tunnel id, with Cloudflare's reason. Their keys did not change.
    - A reason that quotes a key or a credential shows C(********) in its place.
  returned: always
  type: dict
  sample: {"0123456789abcdef0123456789abcdef": "IPsec tunnel not found"}
skipped_tunnels:
  description:
    - The tunnels left out of the request because their key is fresh under O(max_age) and their router holds it.
    - Not named C(skipped), which Ansible reserves for a skipped task.
  returned: always
  type: list
  elements: str
  sample: ["023e105f4ecef8ad9ca31a8372d0c353"]
status:
  description: The HTTP status of Cloudflare's failing answer.
  returned: on failure, when Cloudflare answered
  type: int
  sample: 403
cloudflare_errors:
  description:
    - Cloudflare's error codes and messages.
    - Redacted like every field of a failed result; an answer that quotes the request shows C(********)
      in place of the token, the Global API key and every key of the task.
  returned: on failure, when Cloudflare answered
  type: list
  elements: dict
  sample: [{"code": 10000, "message": "Authentication error"}]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cloudflare.magic.plugins.module_utils._bulk import (
    IPSEC_PSK_BULK_MUTUALLY_EXCLUSIVE,
    IPSEC_PSK_BULK_REQUIRED_ONE_OF,
    IPSEC_PSK_BULK_SPEC,
    run_bulk_task,
)


def main():
    # Normally the action plugin runs this same code on the controller; main() serves a direct run.
    module = AnsibleModule(
        argument_spec=IPSEC_PSK_BULK_SPEC,
        mutually_exclusive=IPSEC_PSK_BULK_MUTUALLY_EXCLUSIVE,
        required_one_of=IPSEC_PSK_BULK_REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    result = run_bulk_task(module.params, os.environ, check_mode=module.check_mode)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
