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


@pytest.mark.parametrize("params, environ, option", [
    ({"api_token": "tok€" + "e" * 36}, {}, "api_token"),
    ({"api_token": "tok\u00e9" + "e" * 36}, {}, "api_token"),  # latin-1 would encode, but no credential holds it
    ({"api_email": "ops@exämple.com", "api_key": KEY}, {}, "api_email"),
    ({"api_email": EMAIL, "api_key": "k€" + "k" * 35}, {}, "api_key"),
    ({}, {"CLOUDFLARE_API_TOKEN": "tok€" + "e" * 36}, "CLOUDFLARE_API_TOKEN"),
])
def test_a_credential_that_no_http_header_can_carry_is_refused_saying_nothing_was_sent(params, environ, option):
    with pytest.raises(OptionError) as caught:
        resolve_credentials(params, environ)
    said = str(caught.value)
    assert said.startswith(f"{option}: ") and "nothing was sent" in said and "€" not in said


@pytest.mark.parametrize("params, option", [({"api_token": "en"}, "api_token"),
                                            ({"api_email": EMAIL, "api_key": "k" * 15}, "api_key")])
def test_a_credential_shorter_than_any_cloudflare_issues_is_refused(params, option):
    with pytest.raises(OptionError, match=f"^{option}: is shorter than 16 characters"):
        resolve_credentials(params, {})


def test_an_unused_short_value_in_the_environment_is_not_refused():
    creds = resolve_credentials({"api_token": TOKEN}, {"CLOUDFLARE_API_TOKEN": "en"})
    assert creds.api_token == TOKEN
