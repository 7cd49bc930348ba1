from __future__ import annotations

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError
from ansible_collections.cloudflare.magic.plugins.module_utils._options import (
    check_base_url,
    check_connection,
    check_identifier,
)
from support.fakes import DEFAULTS

GOOD_ID = "023e105f4ecef8ad9ca31a8372d0c353"


def base_params(**overrides):
    params = dict(DEFAULTS, account_id=GOOD_ID)
    params.update(overrides)
    return params


def test_identifier_is_lowercased():
    assert check_identifier("ipsec_tunnel_id", GOOD_ID.upper()) == GOOD_ID


@pytest.mark.parametrize("value, said", [
    ("023e105f4ecef8ad9ca31a8372d0c35", "31 characters"),
    (GOOD_ID + "0", "33 characters"),
    ("../../../user/tokens/verify00000", "URL path characters"),
    ("023e105f4ecef8ad9ca31a8372d0c35z", "non-hex"),
    ("023e105f4ecef8ad9ca31a8372d0c3%2", "URL path characters"),
])
def test_bad_identifiers_name_the_option(value, said):
    with pytest.raises(OptionError) as info:
        check_identifier("ipsec_tunnel_id", value)
    assert str(info.value).startswith("ipsec_tunnel_id: must be 32 hexadecimal characters")
    assert said in str(info.value)


def test_missing_account_id_names_the_env_variable():
    with pytest.raises(OptionError, match="CLOUDFLARE_ACCOUNT_ID"):
        check_connection(base_params(account_id=None))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/client/v4", "http://localhost/x", "http://[::1]:1/"])
def test_plain_http_to_loopback_is_accepted(url):
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url, said", [
    ("http://api.cloudflare.com/client/v4", "in clear"),
    ("http://10.0.0.1/client/v4", "in clear"),
    ("ftp://api.cloudflare.com/", "https:// URL"),
    ("https://user:pw@api.cloudflare.com/", "credentials"),
    ("https://api.cloudflare.com/client/v4?x=1", "query"),
    ("", "empty"),
    ("https://api.cloudflare.com:99999/", "not a valid URL"),
])
def test_bad_base_urls(url, said):
    with pytest.raises(OptionError) as info:
        check_base_url(url)
    assert str(info.value).startswith("api_base_url: ")
    assert said in str(info.value)


@pytest.mark.parametrize("option, value", [
    ("timeout", 0.0), ("timeout", -1.0), ("retry_max_time", 0.0), ("rate_limit_max_wait", -5.0), ("rate_limit_max_wait", float("nan")),
    ("rate_limit_max_wait", float("inf")), ("timeout", float("nan")),
    ("retries", -1), ("retries", 21),
])
def test_bad_numbers_name_the_option(option, value):
    with pytest.raises(OptionError) as info:
        check_connection(base_params(**{option: value}))
    assert str(info.value).startswith(option + ":")


def test_ca_path_must_exist(tmp_path):
    with pytest.raises(OptionError, match="^ca_path: names no readable file"):
        check_connection(base_params(ca_path=str(tmp_path / "missing.pem")))


def test_ca_path_with_validate_certs_off_is_refused(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(OptionError, match="^ca_path: is set while validate_certs is false"):
        check_connection(base_params(ca_path=str(ca), validate_certs=False))


def test_env_fallbacks_come_from_the_given_environment_and_explicit_options_win():
    from ansible_collections.cloudflare.magic.plugins.module_utils._options import with_env_fallbacks

    environ = {"CLOUDFLARE_ACCOUNT_ID": "b" * 32, "CLOUDFLARE_BASE_URL": "https://example.test/client/v4"}
    filled = with_env_fallbacks({"account_id": None, "ipsec_tunnel_id": "x"}, environ)
    assert filled["account_id"] == "b" * 32
    assert filled["api_base_url"] == "https://example.test/client/v4"
    assert with_env_fallbacks({"account_id": "a" * 32}, environ)["account_id"] == "a" * 32
    assert "api_token" not in with_env_fallbacks({}, {"CLOUDFLARE_API_TOKEN": "t"})
