# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading Cloudflare's answers: the JSON envelope, HTML error pages, Retry-After. For internal collection use only."""

from __future__ import annotations

import html
import json
import math
import re

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def parse_envelope(status, headers, content):
    """Return ``result`` of a successful answer, or raise ``ApiError`` describing the failure."""
    retry_after = retry_after_seconds(headers) if status == 429 else None
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


def retry_after_seconds(headers):
    """Seconds from a Retry-After header (delta-seconds form), or None."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if math.isnan(seconds) or seconds < 0:
        return None
    return float(math.ceil(seconds)) if seconds > 0 else 0.0
