"""Credentials as an AWX credential type injects them: every field, empty ones as empty variables."""

from __future__ import annotations

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._options import resolve_credentials
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError

TOKEN = "tok" + "e" * 37
KEY = "k" * 37
EMAIL = "ops@example.com"


def test_empty_email_and_key_beside_a_token_count_as_unset():
    creds = resolve_credentials({}, {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_EMAIL": "", "CLOUDFLARE_API_KEY": ""})
    assert creds.headers() == {"Authorization": "Bearer " + TOKEN}


def test_empty_token_beside_email_and_key_counts_as_unset():
    creds = resolve_credentials({}, {"CLOUDFLARE_API_TOKEN": "", "CLOUDFLARE_EMAIL": EMAIL, "CLOUDFLARE_API_KEY": KEY})
    assert creds.headers() == {"X-Auth-Email": EMAIL, "X-Auth-Key": KEY}


def test_all_empty_is_no_credentials_at_all():
    with pytest.raises(OptionError) as caught:
        resolve_credentials({}, {"CLOUDFLARE_API_TOKEN": "", "CLOUDFLARE_EMAIL": "", "CLOUDFLARE_API_KEY": ""})
    assert "no Cloudflare credentials were given" in str(caught.value)


def test_an_empty_task_option_is_still_refused():
    with pytest.raises(OptionError) as caught:
        resolve_credentials({"api_token": ""}, {"CLOUDFLARE_API_TOKEN": TOKEN})
    assert "api_token" in str(caught.value) and "is empty" in str(caught.value)
