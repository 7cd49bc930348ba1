# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Cloudflare API v4 client on a requests session. For internal collection use only.

It speaks the envelope (``success``, ``errors``, ``result``), retries what is safe to retry, and
turns every failure into a ``CloudflareMagicError`` whose message holds no secret.

Retries are a loop here rather than urllib3's ``Retry``: a POST to ``psk_generate`` whose answer is
lost (reset after sending, timeout, 5xx, a cut body) must be *sent again* so that the key handed on
is the one in force, and the task must know that a key may have changed when it finally gives up;
urllib3 knows neither, nor a body that fails to parse. Which failures are retried, and which may
have been carried out, are properties of the errors (``_errors``).

Each attempt has one deadline, ``timeout`` seconds, for connecting, sending and reading the whole answer:
a watchdog cuts the connection when it passes, so a server that trickles cannot stretch a read. Answers
are read in chunks and refused beyond ``MAX_ANSWER_BYTES``. An answer's headers are read once, into a
``RateLimitInfo`` that the envelope parser, the retry loop and the pacing hook share.

The session ignores the process's environment (``trust_env`` off, so no ~/.netrc either): proxies and
the CA bundle come from the task's effective environment, passed in as ``environ``. requests on its
own would send a plain-http request, Authorization header included, to an HTTP proxy in clear; here
plain http (allowed for loopback only) never goes through one, and an https URL reaches a proxy only
as a CONNECT tunnel, so the proxy sees no header of ours.
"""

from __future__ import annotations

import html
import ipaddress
import json
import math
import os
import platform
import random
import re
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from urllib.request import proxy_bypass_environment

try:
    import requests
    from requests.adapters import HTTPAdapter

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only where requests is missing
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc
    HTTPAdapter = object  # lets this file load; CloudflareClient says what is missing

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import (
    ApiError,
    KeyStateUnknown,
    TransportError,
    note_key_unchanged,
    redact,
)

# No version: it would be a second copy of galaxy.yml's, and AnsiballZ carries no MANIFEST.json to read it from.
USER_AGENT = f"cloudflare.magic (Ansible collection; Python {platform.python_version()})"
# A list of 1,005 tunnels is about 0.5 MiB (540 bytes a tunnel), so 32 MiB holds some 60,000 tunnels.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024


class NoPacing:
    """Pacing that never waits; the controller side supplies a real one."""

    def before_request(self, bucket):
        return None

    def observe(self, bucket, rate_limit, status):
        return None


class CloudflareClient:
    """Calls Cloudflare's API with one credential; ``call`` returns the envelope's ``result``."""

    def __init__(self, base_url, credentials, timeout, validate_certs, ca_path, retry,
                 pacing=None, session=None, sleep=time.sleep, clock=time.monotonic, environ=None,
                 base_url_source="api_base_url", account_source="account_id"):
        if not HAS_REQUESTS:
            raise TransportError(
                "The Python library 'requests' is needed on the Ansible controller: "
                f"pip install requests ({REQUESTS_IMPORT_ERROR})")
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        environ = os.environ if environ is None else environ
        self.verify = _verify(validate_certs, ca_path, environ)
        self.trusted = _trusted(validate_certs, ca_path, environ)
        self.base_url_source = base_url_source
        self.account_source = account_source
        self.proxy = proxy_for(self.base_url, environ)
        # An empty mapping sends directly: with trust_env off, requests adds nothing from the process.
        self.proxies = {"https": self.proxy} if self.proxy else {}
        self.retry = retry
        self.pacing = pacing or NoPacing()
        self.sleep = sleep
        self.clock = clock
        self.session = session or _new_session()

    def _secrets(self):
        return self.credentials.secrets() + proxy_secrets(self.proxy)

    def call(self, method, path, params=None, body=None, mutates=False):
        """Send one logical request, retrying as ``self.retry`` allows.

        ``mutates`` marks a request that changes state each time it is carried out (generating a
        key): if any attempt may have been carried out without its answer reaching us, and no
        later attempt succeeds, the failure says so.
        """
        deadline = self.clock() + self.retry.max_time
        rate_limit_waited = 0.0
        maybe_applied = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, path, params, body)
            except (ApiError, TransportError) as error:
                if mutates and error.may_have_been_applied:
                    maybe_applied = True
                wait = self.retry.wait_before_retry(error, attempt, deadline - self.clock(), rate_limit_waited)
                if wait is None:
                    raise self._final(self.retry.explain(error), mutates, maybe_applied, attempt) from None
                if error.timed_rate_limit:
                    # Waiting out a block is bounded by rate_limit_max_wait, not by retry_max_time.
                    rate_limit_waited += wait
                    deadline += wait
                self.sleep(wait)

    def _final(self, error, mutates, maybe_applied, attempts):
        if not maybe_applied:
            # Every attempt was refused or never reached Cloudflare: nothing was generated.
            return note_key_unchanged(error) if mutates else error
        return KeyStateUnknown(redact(
            f"{error} After {attempts} attempt(s) no answer confirmed a new key, but Cloudflare may "
            "have generated one whose answer was lost: the tunnel's pre-shared key may have changed "
            "and is unknown. Rotate it again to get a key that is in force.", self._secrets()))

    def _attempt(self, method, path, params, body):
        url = self.base_url + path
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update(self.credentials.headers())
        bucket = self.credentials.bucket
        self.pacing.before_request(bucket)
        deadline = _AttemptDeadline(self.timeout, self.session.get_adapter(url))
        try:
            response = self.session.request(
                method, url, params=params, json=body, headers=headers, auth=_keep_headers, stream=True,
                timeout=(min(self.timeout, 10.0), self.timeout), verify=self.verify, proxies=self.proxies,
                allow_redirects=False)
            try:
                content = self._read_answer(response, deadline)
            finally:
                response.close()
        except TransportError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure to get an answer becomes a TransportError
            raise self._transport_error(exc, method, path, deadline.expired) from None
        finally:
            deadline.stop()
        rate_limit = read_rate_limit(response.headers)
        self.pacing.observe(bucket, rate_limit, response.status_code)
        try:
            return parse_envelope(response.status_code, response.headers, content, rate_limit)
        except ApiError as error:
            error.args = (redact(error.args[0] + self._credential_hint(error), self._secrets()),)
            raise

    def _credential_hint(self, error):
        """What a refused credential means, naming where it was set and the permission needed."""
        codes = {e.get("code") for e in error.errors}
        who = self.credentials.described() if hasattr(self.credentials, "described") else "the credential"
        if error.status == 401 or (error.status == 400 and codes & _CREDENTIAL_CODES):
            return f". Cloudflare did not accept {who}: check that it is complete, current and not revoked."
        if error.status == 403:
            return (f". {who[0].upper()}{who[1:]} lacks a permission here: rotating keys needs Magic WAN Write or "
                    "Magic Transit Write (ipsec_tunnel_info needs Magic WAN Read or Magic Transit Read) on the "
                    f"account that {self.account_source} names.")
        return ""

    def _read_answer(self, response, deadline):
        """The body, read in chunks within the attempt's deadline and refused beyond MAX_ANSWER_BYTES."""
        length = response.headers.get("Content-Length", "").strip()
        if length.isdigit() and int(length) > MAX_ANSWER_BYTES:
            raise self._too_large(f"{int(length)} bytes announced")
        content = bytearray()
        for chunk in response.iter_content(_CHUNK_BYTES):
            content += chunk
            if len(content) > MAX_ANSWER_BYTES:
                raise self._too_large("more than that sent")
            if deadline.expired or deadline.remaining() <= 0:
                raise self._too_late()
        if deadline.expired:
            raise self._too_late()
        return bytes(content)

    def _too_large(self, seen):
        return TransportError(
            f"The answer from {self.base_url} was refused as unreadable: it is larger than the "
            f"{MAX_ANSWER_BYTES // (1024 * 1024)} MiB this client reads ({seen}).",
            request_sent=True, retryable=False)

    def _too_late(self):
        return TransportError(
            f"The answer from {self.base_url} did not arrive in time: no complete answer within "
            f"{self.timeout:g} s (timeout) after the request was started.", request_sent=True)

    def _transport_error(self, exc, method, path, deadline_passed):
        secrets = self._secrets()
        if deadline_passed:
            return self._too_late()
        if isinstance(exc, requests.exceptions.ProxyError):
            return TransportError(redact(
                f"{method} {path}: the proxy {proxy_shown(self.proxy or '')} did not open a tunnel to "
                f"{self.base_url} ({_root_cause(exc)}), so the request never reached Cloudflare. Check "
                "HTTPS_PROXY / NO_PROXY in the task's environment.", secrets))
        if isinstance(exc, requests.exceptions.SSLError):
            return TransportError(redact(
                f"TLS verification of {self.base_url} failed: {_tls_problem(exc)}, checked against "
                f"{self.trusted}. If the server uses a private CA, set ca_path (or REQUESTS_CA_BUNDLE) to that "
                f"CA's PEM file; the URL comes from {self.base_url_source}.", secrets), retryable=False)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return TransportError(f"No connection to {self.base_url} within {self.timeout:g} s (timeout); the "
                                  f"URL comes from {self.base_url_source}.")
        if isinstance(exc, requests.exceptions.Timeout):
            return self._too_late()
        if _failed_before_sending(exc):
            # The request could not even be written: nothing left us. The cause is not quoted, since a
            # UnicodeEncodeError names the character and its place in the credential's header.
            return TransportError(f"{method} {path}: the request could not be sent ({type(exc).__name__}: a "
                                  "header or the URL holds what HTTP cannot carry); nothing reached Cloudflare.",
                                  retryable=False)
        if isinstance(exc, requests.exceptions.ConnectionError):
            if not _is_connect_failure(exc):
                return TransportError(redact(f"{method} {path}: the connection to {self.base_url} was dropped "
                                             f"before an answer came ({_root_cause(exc)}).", secrets),
                                      request_sent=True)
            return TransportError(redact(f"{method} {path}: could not connect to {self.base_url}: "
                                         f"{_connect_problem(exc, self.base_url)}. Check {self.base_url_source}.",
                                         secrets))
        return TransportError(redact(f"{method} {path}: request failed ({_root_cause(exc)}).", secrets),
                              request_sent=True)


class _AttemptDeadline:
    """One attempt's deadline: when it passes, the connection in use is cut, whatever it is waiting for."""

    def __init__(self, seconds, adapter):
        self.at = time.monotonic() + seconds
        self.adapter = adapter if isinstance(adapter, _WatchedAdapter) else None
        if self.adapter is not None:
            self.adapter.connection = None
        self.expired = False
        self._done = threading.Event()
        self._timer = None
        self._arm(seconds)

    def _arm(self, delay):
        if self._done.is_set():
            return
        self._timer = threading.Timer(delay, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self):
        if self._done.is_set():
            return
        self.expired = True
        if self.adapter is None or not self.adapter.cut():
            # Still connecting (bounded by the connect timeout): try again shortly.
            self._arm(0.1)

    def remaining(self):
        return self.at - time.monotonic()

    def stop(self):
        self._done.set()
        if self._timer is not None:
            self._timer.cancel()


class _WatchedAdapter(HTTPAdapter):
    """An adapter that keeps the connection in use within reach, so that a deadline can cut it."""

    def __init__(self):
        super().__init__(max_retries=0)
        self.connection = None

    def get_connection_with_tls_context(self, *args, **kwargs):  # requests >= 2.32
        return self._watch(super().get_connection_with_tls_context(*args, **kwargs))

    def get_connection(self, *args, **kwargs):  # requests < 2.32
        return self._watch(super().get_connection(*args, **kwargs))

    def _watch(self, pool):
        if getattr(pool, "_cloudflare_magic_watched", False):
            return pool
        take = pool._get_conn

        def _get_conn(*args, **kwargs):
            connection = take(*args, **kwargs)
            self.connection = connection
            return connection

        pool._get_conn = _get_conn
        pool._cloudflare_magic_watched = True
        return pool

    def cut(self):
        """Shut the socket of the connection in use; False while it has none yet."""
        sock = getattr(self.connection, "sock", None)
        if sock is None:
            return False
        # TLS inside a TLS proxy wraps the real socket; the base class call leaves the TLS object intact.
        sock = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", sock)
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except (OSError, TypeError):
            pass
        return True


def _keep_headers(prepared):
    """An auth hook that changes nothing: it stops requests from putting ~/.netrc credentials in
    place of ours, should a caller's session read the environment."""
    return prepared


def _verify(validate_certs, ca_path, environ):
    """What to verify TLS with: ca_path, else REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (as requests would
    read them, but from the task's environment), else the system's CAs."""
    if not validate_certs:
        return False
    return ca_path or environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or True


def _failed_before_sending(exc):
    """True for errors raised while the request is built or its head encoded, before any byte is sent."""
    return isinstance(exc, (UnicodeError, requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL,
                            requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema))


def _trusted(validate_certs, ca_path, environ):
    """What TLS certificates are checked against, as a message says it."""
    if not validate_certs:
        return "nothing (validate_certs is false)"
    if ca_path:
        return f"ca_path ({ca_path})"
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if environ.get(name):
            return f"{name} ({environ[name]})"
    return "the system's CA certificates"


# Cloudflare's codes for a credential it could not read (reference notes: 9106, 6003 + 6111, 9109).
_CREDENTIAL_CODES = {9106, 6003, 6111, 9109}


def _tls_problem(exc):
    """A TLS failure in words: the certificate check's own reason, without the ssl module's decoration."""
    seen = exc
    while seen is not None:
        message = getattr(seen, "verify_message", None)
        if message:
            return f"the server's certificate is not trusted ({message})"
        nxt = seen.__cause__ or seen.__context__
        if nxt is None and seen.args and isinstance(seen.args[0], BaseException):
            nxt = seen.args[0]
        seen = nxt if nxt is not seen else None
    text = re.sub(r"^\S+: ", "", _root_cause(exc))
    text = re.sub(r"\[SSL: [A-Z_]+\] | \(_ssl\.c:\d+\)", "", text)
    return f"the TLS handshake failed ({text})"


def _connect_problem(exc, base_url):
    """Why a connection could not be opened: the host name does not resolve, or the address refused."""
    text = repr(exc)
    host = urlsplit(base_url).hostname
    if any(s in text for s in ("Name or service not known", "nodename nor servname", "Failed to resolve",
                               "gaierror", "Temporary failure in name resolution", "No address associated")):
        return f"the host name {host} does not resolve (DNS)"
    if "Connection refused" in text:
        return f"{host} refused the connection (nothing listens on that port)"
    if "No route to host" in text or "Network is unreachable" in text:
        return f"there is no route to {host}"
    return _root_cause(exc)


def _is_connect_failure(exc):
    text = repr(exc)
    return any(s in text for s in ("NewConnectionError", "Connection refused", "Name or service not known",
                                   "nodename nor servname", "No route to host", "Failed to resolve",
                                   "NameResolutionError", "Temporary failure in name resolution"))


def _root_cause(exc):
    seen = exc
    while True:
        nxt = seen.__cause__ or seen.__context__
        if nxt is None and seen.args and isinstance(seen.args[0], BaseException):
            nxt = seen.args[0]
        if nxt is None or nxt is seen:
            break
        seen = nxt
    reason = getattr(seen, "reason", None)
    if isinstance(reason, BaseException) and reason is not seen:  # ssl errors' reason is a bare code
        seen = reason
    text = f"{type(seen).__name__}: {seen}"
    return text[:300]


def _new_session():
    session = requests.Session()
    # Proxies, CA bundle and ~/.netrc from the process's environment are not read: see the module doc.
    session.trust_env = False
    adapter = _WatchedAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def connect(connection, pacing=None):
    """The client for a validated ``_options.Connection``; every setting comes from its options."""
    options = connection.options
    retry = RetryPolicy(retries=options["retries"], max_time=options["retry_max_time"],
                        rate_limit_max_wait=options["rate_limit_max_wait"], backoff=options["retry_backoff"],
                        backoff_max=options["retry_backoff_max"])
    return CloudflareClient(connection.base_url, connection.credentials, timeout=options["timeout"],
                            validate_certs=options["validate_certs"], ca_path=options["ca_path"], retry=retry,
                            pacing=pacing, environ=connection.environ, base_url_source=connection.base_url_source,
                            account_source=connection.account_source)


# --- the retry policy ---------------------------------------------------------------------------
class RetryPolicy:
    """Bounded retries: ``retries`` extra attempts, all within ``max_time`` seconds.

    - 429: wait what Retry-After says while all such waits of the request add up to at most
      ``rate_limit_max_wait``; longer, fail saying when to try again (Cloudflare blocks every call for
      five minutes once over quota). These waits do not count against ``max_time``, so that the
      default cap can wait out such a block.
    - 5xx, an unreadable 2xx body, connection failures and timeouts: exponential backoff from
      ``backoff`` seconds, doubling up to ``backoff_max``, with jitter.
    - Everything else (4xx, ``success: false``, TLS): no retry; it will not get better.
    """

    def __init__(self, retries, max_time, rate_limit_max_wait, backoff, backoff_max, rng=None, now=None):
        self.retries = retries
        self.max_time = max_time
        self.rate_limit_max_wait = rate_limit_max_wait
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.rng = rng or random.Random()
        self.now = now or (lambda: datetime.now(timezone.utc))

    def wait_before_retry(self, error, attempt, remaining, rate_limit_waited=0.0):
        """Seconds to wait before attempt ``attempt + 1``, or None to give up.

        ``remaining`` is what is left of ``max_time``; ``rate_limit_waited`` is what earlier 429s of
        the same request have already been waited out.
        """
        if attempt > self.retries or not error.retryable:
            return None
        if error.timed_rate_limit:
            wait = error.retry_after
            return wait if wait + rate_limit_waited <= self.rate_limit_max_wait else None
        wait = self._backoff(attempt)
        return wait if wait <= remaining else None

    def explain(self, error):
        """The error to raise when giving up on ``error``: a rate limit says when to try again."""
        if not error.timed_rate_limit:
            return error
        wait = error.retry_after
        when = (self.now() + timedelta(seconds=wait)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return ApiError(
            error.status, error.errors,
            f"rate limited; Cloudflare asks to wait {wait:g} s, and this task may wait at most "
            f"{self.rate_limit_max_wait:g} s (rate_limit_max_wait) in all, with {self.retries} "
            f"retries (retries). Retry after {when}",
            retry_after=wait)

    def _backoff(self, attempt):
        base = min(self.backoff * (2 ** (attempt - 1)), self.backoff_max)
        return base * (0.5 + self.rng.random() / 2)


# --- reading answers: the envelope, HTML error pages, rate-limit headers ------------------------
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def parse_envelope(status, headers, content, rate_limit):
    """Return ``result`` of a successful answer, or raise ``ApiError`` describing the failure."""
    retry_after = rate_limit.retry_after if status == 429 else None
    if not content or not content.strip():
        raise ApiError(status, [], _not_json_summary(status, headers, content), retry_after, readable=False)
    try:
        body = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(status, [], _not_json_summary(status, headers, content), retry_after, readable=False) from None
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        raise ApiError(status, [], "the answer is JSON but not Cloudflare's envelope", retry_after, readable=False)
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    if 200 <= status < 300 and body["success"]:
        return body.get("result")
    if body["success"]:
        summary = "an error status with success: true"
    elif 200 <= status < 300:
        summary = "success: false"
    else:
        summary = _reason(status)
    raise ApiError(status, errors, summary, retry_after)


def _not_json_summary(status, headers, content):
    kind = (headers.get("Content-Type") or "no content type").split(";")[0].strip()
    if not content or not content.strip():
        return f"the answer was empty (no body, {kind})"
    text = content.decode("utf-8", "replace")
    if "html" in kind or text.lstrip().startswith("<"):
        match = _TITLE.search(text)
        title = _SPACE.sub(" ", html.unescape(_TAGS.sub("", match.group(1)))).strip() if match else ""
        return f"an HTML page instead of JSON ({title[:160] or 'no title'})"
    if kind == "application/json" or text.lstrip().startswith("{"):
        return f"a JSON body that could not be read (cut short or malformed, {len(content)} bytes)"
    return f"a body that is not JSON ({kind}, {len(content)} bytes)"


def _reason(status):
    return {400: "bad request", 401: "authentication failed", 403: "permission denied", 404: "not found",
            405: "method not allowed", 429: "rate limited"}.get(status, "server error" if status >= 500 else "error")


class RateLimitInfo:
    """What one answer said about the quota; each field is None when the answer did not say."""

    def __init__(self, remaining=None, reset=None, quota=None, window=None, retry_after=None):
        self.remaining = remaining
        self.reset = reset
        self.quota = quota
        self.window = window
        self.retry_after = retry_after

    @property
    def known(self):
        return self.remaining is not None and self.reset is not None

    def __repr__(self):
        return (f"RateLimitInfo(remaining={self.remaining}, reset={self.reset}, quota={self.quota}, "
                f"window={self.window}, retry_after={self.retry_after})")


def read_rate_limit(headers):
    """A ``RateLimitInfo`` from an answer's headers (any mapping with case-insensitive ``get``).

    Every answer carries ``Ratelimit: "default";r=<remaining>;t=<seconds to reset>`` and
    ``Ratelimit-Policy: "burst";q=<quota>;w=<window seconds>`` (the IETF RateLimit header draft's
    structured-field form). Anything unreadable is treated as absent, never as an error: pacing is a
    courtesy to the quota, and a malformed header must not fail a key rotation.
    """
    limit = _parameters(_header(headers, "Ratelimit"))
    policy = _parameters(_header(headers, "Ratelimit-Policy"))
    remaining = _number(limit.get("r"), integer=True)
    quota = _number(policy.get("q"), integer=True)
    window = _number(policy.get("w"))
    return RateLimitInfo(
        remaining=remaining,
        reset=_number(limit.get("t")),
        quota=quota if quota else None,
        window=window if window else None,
        retry_after=_retry_after(_header(headers, "Retry-After")),
    )


def _header(headers, name):
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return value if isinstance(value, str) else None


def _parameters(value):
    """The ``key=value`` parameters of the first item of a structured-field list."""
    if not value:
        return {}
    first = value.split(",", 1)[0]
    found = {}
    for part in first.split(";")[1:]:
        key, sep, raw = part.partition("=")
        if sep:
            found.setdefault(key.strip().lower(), raw.strip().strip('"'))
    return found


def _number(raw, integer=False):
    if raw is None:
        return None
    try:
        value = float(raw.strip()) if isinstance(raw, str) else None
    except ValueError:
        return None
    if value is None or not math.isfinite(value) or value < 0:
        return None
    if integer:
        return int(value) if value.is_integer() else None
    return value


def _retry_after(raw):
    """Retry-After in its delta-seconds form, rounded up to whole seconds (an HTTP date is not used)."""
    seconds = _number(raw)
    return None if seconds is None else float(math.ceil(seconds))


# --- proxies, decided from the task's environment -----------------------------------------------
def _variable(environ, name):
    # The lower-case name wins over the upper-case one, as in urllib and curl.
    for key in (name.lower(), name.upper()):
        value = environ.get(key)
        if value and value.strip():
            return value.strip()
    return None


def proxy_for(url, environ):
    """The proxy URL to reach ``url`` through, or None to connect directly."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return None
    proxy = _variable(environ, "https_proxy") or _variable(environ, "all_proxy")
    if proxy is None or bypasses_proxy(parts.hostname, parts.port, _variable(environ, "no_proxy")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def bypasses_proxy(host, port, no_proxy):
    """True when ``no_proxy`` (names, domain suffixes, host:port, addresses, CIDR networks, ``*``) covers the host."""
    if not no_proxy or not host:
        return False
    entries = [e.strip() for e in no_proxy.replace(" ", ",").split(",") if e.strip()]
    if "*" in entries:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        for entry in entries:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    target = f"{host}:{port}" if port else host
    return bool(proxy_bypass_environment(target, {"no": ",".join(entries)}))


def proxy_shown(proxy):
    """The proxy as a message may name it: scheme, host and port, never a user or password."""
    parts = urlsplit(proxy)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"


def proxy_secrets(proxy):
    """A proxy URL's password, to be kept out of messages."""
    if not proxy:
        return []
    password = urlsplit(proxy).password
    return [password] if password else []
