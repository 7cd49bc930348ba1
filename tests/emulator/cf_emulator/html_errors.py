"""HTML pages an HTTP client may meet instead of JSON: Cloudflare's edge error pages and a proxy's page."""

from __future__ import annotations

import html
from datetime import datetime, timezone

HOST = "api.cloudflare.com"

# Status -> the title Cloudflare's edge error pages carry.
EDGE_ERROR_TITLES = {
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway time-out",
    520: "Web server is returning an unknown error",
    521: "Web server is down",
    522: "Connection timed out",
    523: "Origin is unreachable",
    524: "A timeout occurred",
    525: "SSL handshake failed",
    526: "Invalid SSL certificate",
}


def edge_error_page(status: int, ray_id: str, client_ip: str = "127.0.0.1") -> bytes:
    """A page shaped like the one Cloudflare's edge serves for a 5xx (title, error code, Ray ID)."""
    title = EDGE_ERROR_TITLES.get(status, "Unknown error")
    ray = html.escape(ray_id.split("-")[0])
    page = f"""<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->
<head>
<title>{HOST} | {status}: {html.escape(title)}</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="robots" content="noindex, nofollow" />
<meta name="viewport" content="width=device-width,initial-scale=1" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="p-0">
    <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
      <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl text-black-dark leading-tight mr-2">
        <span class="inline-block">{html.escape(title)}</span>
        <span class="code-label">Error code {status}</span>
      </h1>
      <div>Visit <a href="https://www.cloudflare.com/5xx-error-landing?utm_source=errorcode_{status}">cloudflare.com</a> for more information.</div>
      <div class="mt-3">{html.escape(_utc_now())}</div>
    </header>
    <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center sm:text-left
                border-solid border-0 border-t border-gray-300">
      <p class="text-13">
        <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">{ray}</strong></span>
        <span class="cf-footer-separator sm:hidden">&bull;</span>
        <span class="cf-footer-item sm:block sm:mb-1">Your IP: {html.escape(client_ip)}</span>
        <span class="cf-footer-separator sm:hidden">&bull;</span>
        <span class="cf-footer-item sm:block sm:mb-1">Performance &amp; security by Cloudflare</span>
      </p>
    </div>
  </div>
</div>
</body>
</html>
"""
    return page.encode("utf-8")


def proxy_page() -> bytes:
    """What a captive portal or intercepting proxy answers with a 200: HTML, not the API."""
    return b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>Network login required</title></head>
<body>
<h1>Welcome to the guest network</h1>
<p>Please accept the terms of use to continue.</p>
<form method="post" action="/login"><button type="submit">Accept and continue</button></form>
</body>
</html>
"""


def bad_request_page(status: int, reason: str) -> bytes:
    """Cloudflare's edge answer to a request it cannot parse."""
    text = html.escape(f"{status} {reason}")
    return (
        f"<html>\r\n<head><title>{text}</title></head>\r\n<body>\r\n"
        f"<center><h1>{text}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
    ).encode("utf-8")


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
