"""The HTTP layer: keep-alive, chunked bodies, malformed requests, speed, shutting down."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

from cf_emulator import Emulator
from emulator_client import ApiClient


def _raw(emu, payload: bytes) -> bytes:
    with socket.create_connection((emu.host, emu.port), timeout=5) as connection:
        connection.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_keep_alive_serves_many_requests_on_one_connection(plain_emu):
    connection = http.client.HTTPConnection(plain_emu.host, plain_emu.port, timeout=5)
    headers = {"Authorization": f"Bearer {plain_emu.token('magic_wan_read')}"}
    for _attempt in range(3):
        connection.request("GET", f"/client/v4/accounts/{plain_emu.account_id}/magic/ipsec_tunnels", headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        json.loads(response.read())
    connection.close()


def test_chunked_request_body_is_read(plain_emu):
    tunnel = plain_emu.seed["accounts"][0]["tunnels"][0]["id"]
    connection = http.client.HTTPConnection(plain_emu.host, plain_emu.port, timeout=5)
    connection.request("POST", f"/client/v4/accounts/{plain_emu.account_id}/magic/ipsec_tunnels/{tunnel}/psk_generate",
                       body=iter([b"{", b"}"]), encode_chunked=True,
                       headers={"Authorization": f"Bearer {plain_emu.token('magic_wan_write')}",
                                "Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    assert response.status == 200
    response.read()
    assert plain_emu.requests[-1].body == b"{}"


def test_garbage_gets_a_400_html_page_and_the_server_lives_on(plain_emu):
    for garbage in (b"\x16\x03\x01 not http at all\r\n\r\n", b"GET / HTTP/2.0\r\n\r\n", b"\r\n\r\n"):
        answer = _raw(plain_emu, garbage)
        assert answer == b"" or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 505")), garbage
    answer = _raw(plain_emu, b"GET /client/v4/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"Content-Type: text/html" in answer
    with ApiClient(plain_emu) as client:
        assert client.get("/nope").status_code == 404


def test_oversized_body_is_413(plain_emu):
    answer = _raw(plain_emu, b"POST /client/v4/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413")


def test_head_answers_headers_only(plain_emu):
    connection = http.client.HTTPConnection(plain_emu.host, plain_emu.port, timeout=5)
    connection.request("HEAD", "/client/v4/nope")
    response = connection.getresponse()
    assert response.status == 404 and response.read() == b""
    connection.close()


def test_query_is_recorded_without_the_path(plain_emu):
    with ApiClient(plain_emu, token=plain_emu.token("magic_wan_read")) as client:
        client.get(f"/accounts/{plain_emu.account_id}/magic/ipsec_tunnels", params={"a": "1", "b": ""})
    record = plain_emu.requests[-1]
    assert record.path == f"/client/v4/accounts/{plain_emu.account_id}/magic/ipsec_tunnels"
    assert record.query == {"a": "1", "b": ""}
    assert record.headers["USER-AGENT"].startswith("python-requests")


def test_two_thousand_requests_from_twenty_clients_are_quick(emu):
    path = f"/accounts/{emu.account_id}/magic/ipsec_tunnels"
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        with ApiClient(emu, token=emu.token("magic_wan_read")) as client:
            mine = [client.get(path).status_code for _attempt in range(100)]
        with lock:
            statuses.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _attempt in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    # 2,000 requests from one credential: the default quota (1,200) is exceeded on purpose
    assert statuses.count(200) == 1200 and statuses.count(429) == 800
    assert elapsed < 120  # generous: machines running these tests are often busy
    assert len(emu.requests) == 2000


def test_stop_closes_idle_keep_alive_connections():
    emulator = Emulator(tls=False).start()
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=5)
    connection.request("GET", "/client/v4/nope")
    connection.getresponse().read()
    started = time.monotonic()
    emulator.stop()
    assert time.monotonic() - started < 3
    try:
        connection.request("GET", "/client/v4/nope")
        connection.getresponse()
        reached = True
    except (OSError, http.client.HTTPException):
        reached = False
    assert not reached
    connection.close()


def test_ipv6_loopback():
    try:
        emulator = Emulator(host="::1").start()
    except OSError:
        import pytest

        pytest.skip("no IPv6 loopback here")
    try:
        assert emulator.base_url.startswith("https://[::1]:")
        with ApiClient(emulator) as client:
            assert client.get("/nope").status_code == 404
    finally:
        emulator.stop()
