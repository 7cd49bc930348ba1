from __future__ import annotations

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._options import resolve_credentials
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError

TOKEN = "tok" + "e" * 37
KEY = "k" * 37
EMAIL = "ops@example.com"


def test_token_gives_a_bearer_header():
    creds = resolve_credentials({"api_token": TOKEN}, {})
    assert creds.headers() == {"Authorization": "Bearer " + TOKEN}
    assert TOKEN not in repr(creds)


def test_email_and_key_give_legacy_headers():
    creds = resolve_credentials({"api_email": EMAIL, "api_key": KEY}, {})
    assert creds.headers() == {"X-Auth-Email": EMAIL, "X-Auth-Key": KEY}


def test_environment_is_used_when_no_option_is_given():
    creds = resolve_credentials({}, {"CLOUDFLARE_API_TOKEN": TOKEN})
    assert creds.api_token == TOKEN


def test_explicit_options_win_over_the_environment_as_a_whole():
    creds = resolve_credentials({"api_email": EMAIL, "api_key": KEY}, {"CLOUDFLARE_API_TOKEN": TOKEN})
    assert creds.api_token is None and creds.api_key == KEY


@pytest.mark.parametrize("params, environ, said", [
    ({}, {}, "api_token: no Cloudflare credentials were given"),
    ({"api_token": TOKEN, "api_key": KEY, "api_email": EMAIL}, {}, "two authentication methods"),
    ({}, {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_API_KEY": KEY}, "in the environment"),
    ({"api_email": EMAIL}, {}, "api_key: is missing"),
    ({"api_key": KEY}, {}, "api_email: is missing"),
    ({"api_token": ""}, {}, "api_token: is empty"),
    ({"api_token": "  "}, {}, "api_token: is empty"),
    ({"api_token": TOKEN + "\n"}, {}, "api_token: has white space"),
])
def test_bad_credentials_name_the_option_and_never_the_value(params, environ, said):
    with pytest.raises(OptionError) as info:
        resolve_credentials(params, environ)
    assert said in str(info.value)
    assert TOKEN not in str(info.value) and KEY not in str(info.value)


def test_bucket_is_stable_and_not_the_secret():
    a = resolve_credentials({"api_token": TOKEN}, {}).bucket
    assert a == resolve_credentials({"api_token": TOKEN}, {}).bucket
    assert TOKEN not in a and len(a) == 24
