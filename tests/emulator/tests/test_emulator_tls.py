"""HTTPS: trusted with the emulator's CA, refused without it, TLS 1.2 or newer."""

from __future__ import annotations

import os
import socket
import ssl

import pytest
import requests
from cryptography import x509
from emulator_client import ApiClient


def test_trusted_with_ca_file(emu):
    assert emu.base_url.startswith("https://127.0.0.1:")
    assert os.path.isfile(emu.ca_file) and os.path.dirname(emu.ca_file) == str(emu.state_dir)
    with ApiClient(emu, token=emu.token("magic_wan_read")) as client:
        assert client.get(f"/accounts/{emu.account_id}/magic/ipsec_tunnels").status_code == 200


def test_refused_without_the_ca(emu):
    with ApiClient(emu, verify=True) as client:
        with pytest.raises(requests.exceptions.SSLError):
            client.get("/nope")


def test_stdlib_client_verifies_host_names(emu):
    context = ssl.create_default_context(cafile=emu.ca_file)
    for name in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="api.cloudflare.com")


def test_tls_1_1_is_refused(emu):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(emu.ca_file)
    try:
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_server_certificate_names_loopback(emu):
    with open(os.path.join(emu.state_dir, "server.pem"), "rb") as handle:
        certificate = x509.load_pem_x509_certificate(handle.read())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    assert oct(os.stat(os.path.join(emu.state_dir, "server-key.pem")).st_mode & 0o777) == "0o600"


def test_a_client_that_never_handshakes_does_not_block_others(emu):
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5):
        with ApiClient(emu) as client:
            assert client.get("/nope").status_code == 404


def test_temporary_state_dir_is_removed_on_stop():
    from cf_emulator import Emulator

    emulator = Emulator().start()
    ca_file = emulator.ca_file
    assert os.path.exists(ca_file)
    emulator.stop()
    assert not os.path.exists(ca_file)
