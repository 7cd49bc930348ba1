"""redact and redact_fields: what a failed result may still say once the task's secrets are taken out."""

from __future__ import annotations

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import (
    MIN_SECRET_LENGTH,
    REDACTED,
    redact,
    redact_fields,
)

TOKEN = "tok-0123456789abcdefghijklmnopqrstuvwxyz"
KEY = "generated-key-0123456789abcdefghijklmnopqr"


def test_a_long_secret_is_masked_wherever_it_occurs():
    assert redact(f"Bearer {TOKEN}; x{TOKEN}y", [TOKEN]) == f"Bearer {REDACTED}; x{REDACTED}y"


def test_a_short_secret_inside_a_word_is_left_so_that_masking_gives_no_hint():
    # "en" masked inside "authentication" would read auth********tication and show the secret.
    assert redact("authentication failed", ["en"]) == "authentication failed"
    assert redact("proxy user:pw@host said pw", ["pw"]) == f"proxy user:{REDACTED}@host said {REDACTED}"


def test_the_minimum_is_what_the_options_refuse_below():
    assert MIN_SECRET_LENGTH == 16


def test_every_field_at_any_depth_is_redacted_and_the_handed_on_keys_are_kept():
    failed = {"msg": f"HTTP 400 ({TOKEN})", "status": 400,
              "cloudflare_errors": [{"code": 1004, "message": f"Authorization: Bearer {TOKEN} body {KEY}"}],
              "rotated": {"t1": {"psk": KEY, "name": f"n-{TOKEN}"}}, "unapplied": {"t2": f"bad {KEY}"}}
    shown = redact_fields(failed, [TOKEN, KEY], keep=(("rotated", "*", "psk"),))
    text = repr({k: v for k, v in shown.items() if k != "rotated"}) + repr(shown["rotated"]["t1"]["name"])
    hits = text.count(TOKEN) + text.count(KEY)
    kept = shown["rotated"]["t1"]["psk"] == KEY
    assert hits == 0 and kept and shown["status"] == 400
    assert shown["cloudflare_errors"][0] == {"code": 1004, "message": f"Authorization: Bearer {REDACTED} body {REDACTED}"}
