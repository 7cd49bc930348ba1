#!/usr/bin/python
# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ipsec_tunnel_info
short_description: Report the age of the pre-shared keys of Cloudflare Magic IPsec tunnels, and stale routers
version_added: 0.1.0
description:
  - Reads the account's Magic IPsec tunnels with one C(GET /accounts/{account_id}/magic/ipsec_tunnels)
    and reports, per tunnel, when its pre-shared key (PSK) was generated, how old it is, whether it is
    older than O(max_age) and whether its router holds the key in force. Changes nothing.
  - One request whatever the account's size or the selection. Cloudflare's list endpoint has no paging
    (its answer holds every tunnel and no C(result_info)), so 1,000 tunnels cost one request.
  - Never returns a secret. Cloudflare never returns a key from this endpoint; the other secret-shaped
    fields of a tunnel (C(bgp.md5_key) and any field whose name holds C(key), C(secret), C(psk)...) are
    hidden as in RV(cloudflare.magic.ipsec_psk#module:tunnel) and are not copied into the report anyway.
  - The decisions are those of M(cloudflare.magic.ipsec_psk) and M(cloudflare.magic.ipsec_psk_bulk).
    RV(ipsec_tunnels[].overdue) is true exactly when a rotation with the same O(max_age) would rotate,
    and RV(ipsec_tunnels[].router_stale) when it would rotate because of O(router_psk_generated_on).
  - A token with C(Magic WAN Read) or C(Magic Transit Read) is enough.
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
      - Report on these tunnels only, by identifier (32 hexadecimal characters), in this order.
      - An identifier that is not one of the account's tunnels fails the task, naming it.
      - Without O(ipsec_tunnel_ids) and O(ipsec_tunnel_names), every tunnel of the account is reported,
        in Cloudflare's order.
    type: list
    elements: str
  ipsec_tunnel_names:
    description:
      - Report on these tunnels only, by name, in this order.
      - A name that matches no tunnel, or more than one, fails the task, naming it.
      - Mutually exclusive with O(ipsec_tunnel_ids).
    type: list
    elements: str
  max_age:
    description:
      - The key policy. With it every tunnel has RV(ipsec_tunnels[].overdue), true when its key is older
        than this or its age is unknown (never generated), and RV(summary.overdue) counts them.
      - A whole number followed by V(d), V(h), V(m) or V(s) (V(90d), V(12h), V(30m)), or a number of seconds.
    type: str
  router_psk_generated_on:
    description:
      - For each tunnel (by id or name), the C(psk_metadata.last_generated_on) that its router recorded
        when it last received a key, or an empty string when the router holds no key from this collection;
        the same values as M(cloudflare.magic.ipsec_psk_bulk) takes.
      - A tunnel whose router stamp is not the same instant as Cloudflare's is RV(ipsec_tunnels[].router_stale).
      - Each value must be an RFC 3339 time, quoted, and each key must name a reported tunnel; both are
        checked before the report is made.
    type: dict
attributes:
  check_mode:
    support: full
    details:
      - The module changes nothing; check mode sends the same request and returns the same report.
  diff_mode:
    support: N/A
    details:
      - Nothing is changed, so there is no difference to show.
seealso:
  - module: cloudflare.magic.ipsec_psk
  - module: cloudflare.magic.ipsec_psk_bulk
  - name: Cloudflare API, List IPsec tunnels
    description: The endpoint this module calls.
    link: https://developers.cloudflare.com/api/resources/magic_transit/subresources/ipsec_tunnels/methods/list/
"""

EXAMPLES = r"""
- name: Report every tunnel's key age against a 90-day policy (credentials from the environment)
  cloudflare.magic.ipsec_tunnel_info:
    max_age: 90d
  register: keys

- name: Fail the audit job when a key is overdue
  ansible.builtin.assert:
    that: keys.summary.overdue == 0
    fail_msg: >-
      {{ keys.summary.overdue }} tunnel key(s) older than 90 days:
      {{ keys.ipsec_tunnels | selectattr('overdue') | map(attribute='name') | join(', ') }}

- name: Which routers lag behind Cloudflare (stamps the routers recorded beside their keys)
  cloudflare.magic.ipsec_tunnel_info:
    ipsec_tunnel_names: [tunnel_nyc_01, tunnel_lon_01]
    router_psk_generated_on:
      tunnel_nyc_01: "2026-11-26T10:48:15.953887008Z"
      tunnel_lon_01: ""
  register: keys

- name: Rotate the overdue keys only (the rotated keys must then go to the routers under no_log)
  cloudflare.magic.ipsec_psk_bulk:
    ipsec_tunnel_ids: "{{ keys.ipsec_tunnels | selectattr('overdue') | map(attribute='id') | list }}"
  register: fleet
  when: keys.summary.overdue > 0
"""

RETURN = r"""
ipsec_tunnels:
  description:
    - The reported tunnels, in the order asked (Cloudflare's order when all are reported). Never holds a key.
  returned: success
  type: list
  elements: dict
  sample:
    - id: 023e105f4ecef8ad9ca31a8372d0c353
      name: tunnel_nyc_01
      description: New York branch
      cloudflare_endpoint: 162.159.66.164
      customer_endpoint: 203.0.113.10
      interface_address: 10.252.2.26/31
      psk_metadata:
        last_generated_on: "2026-08-28T10:48:15.953887008Z"
      psk_age_days: 95.05
      never_generated: false
      overdue: true
      router_stale: false
  contains:
    id:
      description: The tunnel's identifier.
      type: str
      returned: always
    name:
      description: The tunnel's name.
      type: str
      returned: always
    description:
      description: The tunnel's description.
      type: str
      returned: when Cloudflare's answer holds it
    cloudflare_endpoint:
      description: Cloudflare's anycast address, the router's IKE peer.
      type: str
      returned: always
    customer_endpoint:
      description: The router's public address, when the tunnel names one (it is optional at Cloudflare).
      type: str
      returned: when Cloudflare's answer holds it
    interface_address:
      description: Cloudflare's side of the tunnel's inside network (a /31 or /30).
      type: str
      returned: always
    custom_remote_identities:
      description: The tunnel's custom IKE identity (C(fqdn_id)).
      type: dict
      returned: when Cloudflare's answer holds it
    psk_metadata:
      description:
        - C(last_generated_on), Cloudflare's time of the key in force, as Cloudflare wrote it; V(null) when no
          key was ever generated (Cloudflare then sends no C(psk_metadata), a null one, or a null time).
      type: dict
      returned: always
    psk_age_days:
      description:
        - The key's age in days at RV(reported_on), a float rounded to two decimals (steps of about
          15 minutes), so that a report can sort and compare without parsing times.
        - V(null) when no key was ever generated, or its age is unknown (RV(ipsec_tunnels[].psk_metadata_problem)).
      type: float
      returned: always
    never_generated:
      description: True when the tunnel never had a key generated or set (no C(last_generated_on)).
      type: bool
      returned: always
    psk_metadata_problem:
      description:
        - Why the key's age is unknown although Cloudflare sent a C(psk_metadata), or V(null) when nothing is
          wrong with it. C(psk_metadata) that is not an object, a C(last_generated_on) that is not an RFC 3339
          time, or one more than 5 minutes in the future (clocks differ a little; more is a record gone wrong,
          not a young key).
        - Such a key has no RV(ipsec_tunnels[].psk_age_days), is not RV(ipsec_tunnels[].never_generated), and is
          RV(ipsec_tunnels[].overdue) under any O(max_age), since M(cloudflare.magic.ipsec_psk) with O(max_age) rotates it.
      type: str
      returned: always
    overdue:
      description:
        - True when the key is older than O(max_age) or its age is unknown, that is when
          M(cloudflare.magic.ipsec_psk) with this O(max_age) would rotate it.
      type: bool
      returned: when O(max_age) is given
    router_stale:
      description:
        - True when the router's stamp in O(router_psk_generated_on) is not the key in force (an empty stamp,
          or any stamp for a tunnel without a key, is stale); V(null) for a tunnel that option does not name.
      type: bool
      returned: when O(router_psk_generated_on) is given
summary:
  description: Counts for a dashboard or C(set_stats), and the oldest key.
  returned: success
  type: dict
  sample:
    total: 1000
    never_generated: 334
    unknown_age: 0
    overdue: 517
    router_stale: 2
    oldest:
      name: fleet_00178
      id: 5a0b3c8e9d7f6a1b2c3d4e5f60718293
      last_generated_on: "2026-03-12T09:01:44.120000000Z"
      psk_age_days: 264.12
  contains:
    total:
      description: How many tunnels are reported.
      type: int
      returned: always
    never_generated:
      description: How many never had a key generated.
      type: int
      returned: always
    unknown_age:
      description: How many have a C(psk_metadata) whose age cannot be known (RV(ipsec_tunnels[].psk_metadata_problem)).
      type: int
      returned: always
    overdue:
      description: How many are overdue under O(max_age); V(null) without O(max_age).
      type: int
      returned: always
    router_stale:
      description: How many routers do not hold the key in force; V(null) without O(router_psk_generated_on).
      type: int
      returned: always
    oldest:
      description:
        - The oldest key among the tunnels that have one (C(name), C(id), C(last_generated_on), C(psk_age_days));
          V(null) when none has.
      type: dict
      returned: always
reported_on:
  description: The controller's time (UTC) at which the ages were computed.
  returned: success
  type: str
  sample: "2026-12-01T21:50:00Z"
status:
  description: The HTTP status of Cloudflare's failing answer.
  returned: on failure, when Cloudflare answered
  type: int
  sample: 403
cloudflare_errors:
  description: Cloudflare's error codes and messages.
  returned: on failure, when Cloudflare answered
  type: list
  elements: dict
  sample: [{"code": 10000, "message": "Authentication error"}]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cloudflare.magic.plugins.module_utils._info import (
    IPSEC_TUNNEL_INFO_MUTUALLY_EXCLUSIVE,
    IPSEC_TUNNEL_INFO_SPEC,
    run_info_task,
)


def main():
    # Normally the action plugin runs this same code on the controller; main() serves a direct run.
    module = AnsibleModule(
        argument_spec=IPSEC_TUNNEL_INFO_SPEC,
        mutually_exclusive=IPSEC_TUNNEL_INFO_MUTUALLY_EXCLUSIVE,
        supports_check_mode=True,
    )
    result = run_info_task(module.params, os.environ)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
