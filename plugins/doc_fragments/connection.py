# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection and authentication options shared by the collection's Cloudflare modules."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  account_id:
    description:
      - The Cloudflare account identifier, 32 hexadecimal characters.
      - Checked before any request is sent.
      - Required, as this option or as the environment variable.
      - If not set, the environment variable E(CLOUDFLARE_ACCOUNT_ID) is used.
    type: str
  api_token:
    description:
      - A Cloudflare API token with the C(Magic WAN Write) or C(Magic Transit Write) permission.
      - Give either O(api_token), or O(api_email) with O(api_key).
      - Options given in the task win over the environment as a whole; within one source exactly one
        method must be given.
      - If no credential option is set, the environment variable E(CLOUDFLARE_API_TOKEN) is used.
      - O(api_token), O(api_email) and O(api_key) may hold visible ASCII characters only (no space, no
        character outside ASCII), since they travel in HTTP headers; O(api_token) and O(api_key) must have at
        least 16 characters (Cloudflare issues 40 and 37). Otherwise the task fails at once, saying that
        nothing was sent.
    type: str
  api_email:
    description:
      - The email address of the Cloudflare user whose Global API key is O(api_key).
      - If no credential option is set, the environment variable E(CLOUDFLARE_EMAIL) is used.
    type: str
  api_key:
    description:
      - The Global API key of O(api_email). Prefer O(api_token).
      - If no credential option is set, the environment variable E(CLOUDFLARE_API_KEY) is used.
    type: str
  api_base_url:
    description:
      - Base URL of the Cloudflare API v4.
      - Plain C(http://) is refused unless the host is a loopback address, so that credentials never
        travel in clear, and a plain C(http://) URL is always reached directly, never through a proxy.
      - An C(https://) URL goes through the proxy in E(HTTPS_PROXY) (or E(https_proxy), E(ALL_PROXY),
        E(all_proxy)) unless E(NO_PROXY) (or E(no_proxy)) covers the host, as a C(CONNECT) tunnel; the
        proxy sees the host and port, never a header or the body. E(HTTP_PROXY) is never used.
      - If not set, the environment variable E(CLOUDFLARE_BASE_URL) is used.
    type: str
    default: https://api.cloudflare.com/client/v4
  validate_certs:
    description:
      - Verify the API's TLS certificate. Set to V(false) only against a throwaway test server.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to trust instead of the system's, for a TLS-inspecting proxy or a
        test server.
      - If not set, the file named by E(REQUESTS_CA_BUNDLE), else E(CURL_CA_BUNDLE), is used when set;
        otherwise the CAs that C(requests) trusts by default.
    type: path
  timeout:
    description:
      - Seconds that one attempt may take as a whole, from connecting to the last byte of the answer (a
        server that sends slowly cannot stretch it). The connection itself must open within the lesser of
        this and 10 seconds.
      - At most one day (86400). Answers larger than 32 MiB are refused as unreadable; a list of 1,000
        tunnels is about 0.5 MiB.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is sent again after a rate limit (HTTP 429), a server error (5xx,
        JSON or HTML), an unreadable answer, a dropped connection or a timeout. V(0) sends once.
      - Client errors such as a bad token (4xx) are never retried.
    type: int
    default: 4
  retry_max_time:
    description:
      - Seconds that all attempts of one request, and the backoff waits between them, may take together.
      - Waiting out a rate limit is bounded by O(rate_limit_max_wait) instead, and does not count here.
    type: float
    default: 180
  rate_limit_max_wait:
    description:
      - How long, in all, one request may wait out the C(Retry-After) of rate-limited answers (HTTP 429)
        before sending again. A longer wait fails the task at once, saying when it may be retried.
      - Cloudflare blocks every call of a credential for five minutes once its quota is exceeded; the
        default waits that out.
    type: float
    default: 310
  retry_backoff:
    description:
      - Seconds to wait before the first retry after a server error, an unreadable answer, a dropped
        connection or a timeout. Each further wait doubles, up to O(retry_backoff_max), and a random
        part of up to half is taken off so that many hosts do not retry in step.
    type: float
    default: 1
  retry_backoff_max:
    description:
      - The longest backoff wait between two attempts, in seconds.
    type: float
    default: 30
notes:
  - The collection talks to Cloudflare from the Ansible controller (or the execution environment in
    AWX), whatever host the task runs for. The controller needs the Python library C(requests).
  - Environment variables are read on the controller; an AWX credential that injects them is enough.
  - "Where each setting comes from, first match wins: the task's options (and C(module_defaults));
    then the C(environment:) keyword of the task, then of its block, then of its play; then the
    controller's environment. This holds for E(CLOUDFLARE_ACCOUNT_ID), E(CLOUDFLARE_BASE_URL), the
    credential variables, the proxy variables and the CA bundle variables. Credentials are taken as a whole
    from the first source that gives any."
  - C(~/.netrc) is never read.
    An empty E(CLOUDFLARE_API_TOKEN), E(CLOUDFLARE_EMAIL) or E(CLOUDFLARE_API_KEY) counts as unset, as AWX
    injects a credential field left empty.
requirements:
  - requests
"""
