#!/usr/bin/python
# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ipsec_psk
short_description: Rotate the pre-shared key of a Cloudflare Magic WAN / Magic Transit IPsec tunnel
version_added: 0.1.0
description:
  - Asks Cloudflare to generate a new pre-shared key (PSK) for one Magic IPsec tunnel with
    C(POST /accounts/{account_id}/magic/ipsec_tunnels/{ipsec_tunnel_id}/psk_generate), and returns it
    so that the next task can configure the router.
  - Cloudflare puts a generated key in force at once and never shows it again. The returned RV(psk) is
    exactly the key Cloudflare answered with; when an answer is lost on the way, the request is sent
    again so that the key handed on is the one in force, or the task fails saying that the tunnel's
    key may have changed.
  - The PSK is hidden from every display of the task's result (all verbosities, C(log_path),
    callbacks, AWX job events) without C(no_log) on the task, while C(register) keeps it for the
    next task. That next task must set C(no_log) to V(true) itself; see the examples.
  - A result that holds a key is hidden as a whole (ansible-core censors a C(no_log) result whole, and
    C(register) must keep the key), so an ad-hoc run prints C(censored) for it. A line beside it names the
    tunnel, RV(rotation_reason) and the new C(last_generated_on), never the key; register the result to read
    the rest.
  - In check mode the request is sent with C(validate_only=true). Cloudflare validates the
    credentials, the account and the tunnel, and rotates nothing; no RV(psk) is returned.
  - Calls are paced by Cloudflare's C(Ratelimit) and C(Ratelimit-Policy) headers (1,200 requests per
    5 minutes per token; going over blocks every call for 5 minutes). All forks of a run, and concurrent
    runs of the same user, share what the last answers said through a small file per credential in the
    controller's temporary directory (the parent of C(local_tmp)); it holds counters and times only,
    under a one-way hash. A fleet rotation with many forks thus waits for the next quota window
    instead of being blocked. See C(docs/benchmarks.md) for measured figures.
author:
  - cloudflare.magic developers (@cloudflare-magic)
extends_documentation_fragment:
  - cloudflare.magic.connection
  - cloudflare.magic.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.actiongroups
options:
  ipsec_tunnel_id:
    description:
      - The tunnel's identifier, 32 hexadecimal characters.
      - Exactly one of O(ipsec_tunnel_id) and O(ipsec_tunnel_name) is required.
    type: str
  ipsec_tunnel_name:
    description:
      - The tunnel's name, looked up in the account's tunnel list (one more request).
      - If no tunnel or more than one has this name, the task fails and nothing is rotated.
    type: str
  max_age:
    description:
      - Rotate only when the current key is older than this, or when its age is unknown (no C(last_generated_on),
        one that is not an RFC 3339 time, or one more than 5 minutes in the future). Otherwise the
        task reports C(changed=false) and returns no RV(psk), so that the router task can be skipped
        with a plain C(when).
      - A whole number followed by V(d), V(h), V(m) or V(s) (V(90d), V(12h), V(30m)), or a number of seconds,
        of at most 36500 days; anything else fails the task before any request.
      - Costs one look-up request before the rotation when the tunnel is given by id.
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
      - The C(psk_metadata.last_generated_on) the router recorded when it last received a key from this
        module (RV(psk_metadata.last_generated_on) of that run); an empty string means the router holds no
        key from this collection.
      - When it is not the same instant as Cloudflare's C(last_generated_on), the router's key is stale, so the
        task rotates now and returns a new RV(psk) whatever O(max_age) says (RV(rotation_reason=router_stale)).
        A tunnel that never had a key generated has no C(last_generated_on), so any stamp is stale then.
      - When it is the same instant, O(max_age) decides as without this option.
      - Instants are compared, not strings; V(Z) and V(+00:00), and fractions of a second up to nine
        digits, name the same instant. V(t) and V(z) may be lower case, and a space may stand for V(T).
      - An unquoted timestamp is accepted too, although YAML reads it as a date and time that Ansible shows as
        C(2026-11-01 10:00:00+00:00). Such a value holds microseconds at most, so it names the key generated
        within that microsecond. Quote the value to keep it exactly as written.
      - A value that is not an RFC 3339 time, or has no UTC offset, fails the task before any request, and the
        message says to quote it.
      - With it the router's task runs on every run that leaves the router behind, so a failed hand-off
        (unreachable router, failed task, killed run, restored backup) is repaired by the next run. Record
        the stamp in the same file or configuration object as the key, in the same write, so that a late
        write by an overlapping run brings its own stamp; mark it unverified when loading the key fails.
        The role C(cloudflare.magic.tunnel_psk) does this.
      - Costs one look-up request before the rotation when the tunnel is given by id.
    type: str
  psk:
    description:
      - Set this key, from your own vault or HSM, instead of having Cloudflare generate one. It is sent
        with C(POST /accounts/{account_id}/magic/ipsec_tunnels/psk) (one entry) and returned as RV(psk)
        once Cloudflare applied it; a lost answer is re-sent with the same key, which converges.
      - It must be one string (a list, a mapping, or a number or boolean as YAML reads an unquoted value, is
        refused), at least 16 characters long, without control characters and without white space at either
        end; otherwise the task fails before any request. A key Cloudflare refuses fails the task, and the tunnel keeps its key.
      - Why 16. Cloudflare documents no length for a key, and the keys it generates have 32 or 43 characters.
        A short IKEv2 pre-shared key can be guessed offline by anyone who records one IKE exchange. A short
        key could also turn up by chance inside other text, such as an error message, where masking it
        would give it away.
      - For many tunnels in one request, see M(cloudflare.magic.ipsec_psk_bulk).
    type: str
attributes:
  check_mode:
    support: full
    details:
      - Sends the request with C(validate_only=true) and reports whether a real run would rotate.
      - With O(max_age), a key that is still fresh enough sends no C(psk_generate) at all and reports C(changed=false).
      - RV(rotation_reason) says why a real run would rotate (or V(fresh)).
  diff_mode:
    support: full
    details:
      - Shows the tunnel's C(psk_metadata) before and after, never the key.
seealso:
  - name: Cloudflare API, Generate Pre Shared Key (PSK) for IPsec tunnels
    description: The endpoint this module calls.
    link: https://developers.cloudflare.com/api/resources/magic_transit/subresources/ipsec_tunnels/methods/psk_generate/
"""

EXAMPLES = r"""
- name: Rotate the tunnel's key (credentials from CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID)
  cloudflare.magic.ipsec_psk:
    ipsec_tunnel_id: 023e105f4ecef8ad9ca31a8372d0c353
  register: rotation

- name: Hand the new key to strongSwan (no_log, because this task's arguments hold the key)
  ansible.builtin.template:
    src: swanctl.conf.j2
    dest: /etc/swanctl/conf.d/cloudflare.conf
    mode: "0600"
  no_log: true
  when: rotation.psk is defined

- name: Rotate by name, only when the key is older than 90 days
  cloudflare.magic.ipsec_psk:
    account_id: "{{ cloudflare_account_id }}"
    api_token: "{{ vault_cloudflare_api_token }}"
    ipsec_tunnel_name: tunnel_nyc_01
    max_age: 90d
  register: rotation

# The router records the stamp in the same file as its key (the role cloudflare.magic.tunnel_psk
# writes "# cloudflare.magic psk <last_generated_on>"); only that line is read, never the key.
- name: Read the stamp the router recorded next to its key
  ansible.builtin.command:
    argv: [sed, -n, 's/^# cloudflare\.magic psk \(.*\)$/\1/p', /etc/swanctl/conf.d/cloudflare-tunnel_nyc_01.conf]
  register: router_stamp
  changed_when: false
  failed_when: false
  check_mode: false

- name: Rotate when the key is older than 90 days, or at once when the router does not hold the key in force
  cloudflare.magic.ipsec_psk:
    ipsec_tunnel_name: tunnel_nyc_01
    max_age: 90d
    # "unverified" (a failed hand-off) or no stamp: an empty string, so the key is rotated and handed on
    router_psk_generated_on: "{{ router_stamp.stdout | trim if router_stamp.stdout is match('[0-9]{4}-') else '' }}"
  register: rotation

- name: Check that a rotation would succeed, without rotating (also what --check does)
  cloudflare.magic.ipsec_psk:
    ipsec_tunnel_id: 023e105f4ecef8ad9ca31a8372d0c353
  check_mode: true

# In a play: give the account and the credentials once for every task of the collection.
# module_defaults:
#   group/cloudflare.magic.magic:
#     account_id: "{{ cloudflare_account_id }}"
#     api_token: "{{ vault_cloudflare_api_token }}"
- name: Rotate with the account and credentials from the play's module_defaults
  cloudflare.magic.ipsec_psk:
    ipsec_tunnel_name: tunnel_nyc_01
  register: rotation
"""

RETURN = r"""
psk:
  description:
    - The new pre-shared key, exactly as Cloudflare returned it; it is in force at once.
    - Hidden from every display of the result; use it only in a task whose C(no_log) is V(true).
  returned: when a key was generated (not in check mode, not when O(max_age) kept the current key)
  type: str
  sample: "********"
ipsec_tunnel_id:
  description: The tunnel's identifier.
  returned: success
  type: str
  sample: 023e105f4ecef8ad9ca31a8372d0c353
ipsec_id:
  description:
    - The IKE identity the router must present (its local identity), as Cloudflare gives it.
  returned: when Cloudflare's answer holds it
  type: str
  sample: 023e105f4ecef8ad9ca31a8372d0c353.33145236.ipsec.cloudflare.com
rotation_reason:
  description:
    - Why the task rotated (or, in check mode, would rotate).
    - V(router_stale) when O(router_psk_generated_on) does not name the key in force, V(max_age) when the
      key is older than O(max_age) or its age is unknown, V(no_max_age) when no O(max_age) was given, and
      V(fresh) when nothing was rotated.
  returned: success
  type: str
  sample: router_stale
psk_metadata:
  description: When the key in force was generated.
  returned: when a key was generated, or the tunnel was looked up
  type: dict
  contains:
    last_generated_on:
      description: RFC 3339 time of the key's generation.
      type: str
      returned: when known
      sample: "2026-11-26T10:48:15.953887008Z"
tunnel:
  description:
    - The tunnel object, as Cloudflare's tunnel list or look-up returned it (never with a key), with
      C(psk_metadata) brought up to date. Holds what a router needs besides the key.
    - Secrets of the tunnel are hidden, at any depth. The value of C(bgp.md5_key), of C(psk), and of every
      field whose name contains C(key), C(secret), C(password), C(passwd), C(token), C(psk) or C(credential)
      (except C(psk_metadata)) is replaced by V(VALUE_HIDDEN_BY_CLOUDFLARE_MAGIC), in every mode; an
      empty or null value is kept. Read such a secret from Cloudflare in a task of your own, with C(no_log).
  returned: when the tunnel was looked up (O(ipsec_tunnel_name), O(max_age), or diff mode)
  type: dict
  contains:
    id:
      description: The tunnel's identifier.
      type: str
      returned: always
    name:
      description: The tunnel's name.
      type: str
      returned: always
    cloudflare_endpoint:
      description: Cloudflare's anycast address, the router's IKE peer and remote identity.
      type: str
      returned: always
    customer_endpoint:
      description: The router's public address, when set.
      type: str
      returned: when set
    interface_address:
      description: Cloudflare's side of the tunnel's inside /31 or /30; the router takes the other address.
      type: str
      returned: always
    replay_protection:
      description: Whether anti-replay is on; the router should match it.
      type: bool
      returned: when set
  sample:
    id: 023e105f4ecef8ad9ca31a8372d0c353
    name: tunnel_nyc_01
    cloudflare_endpoint: 162.159.66.164
    customer_endpoint: 203.0.113.10
    interface_address: 10.252.2.26/31
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

from ansible_collections.cloudflare.magic.plugins.module_utils._options import (
    IPSEC_PSK_MUTUALLY_EXCLUSIVE,
    IPSEC_PSK_REQUIRED_ONE_OF,
    IPSEC_PSK_SPEC,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import run_task


def main():
    # Normally the action plugin runs this same code on the controller; main() serves a direct run.
    module = AnsibleModule(
        argument_spec=IPSEC_PSK_SPEC,
        mutually_exclusive=IPSEC_PSK_MUTUALLY_EXCLUSIVE,
        required_one_of=IPSEC_PSK_REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    result = run_task(module.params, os.environ, check_mode=module.check_mode, diff=module._diff)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
