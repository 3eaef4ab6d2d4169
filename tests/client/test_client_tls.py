"""The client over TLS (https polling and wss) against our server with a self-signed
certificate: refused by default, accepted with ``ssl_verify=False`` or a context that
trusts the certificate."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

import sockio_wsgi
from sockio_wsgi.client import ConnectionError
from tests.helpers.client import assert_no_client_threads, make_sio
from tests.helpers.server import Running, serving
from tests.helpers.sio_interop import Recorder
from tests.helpers.tls import self_signed, server_context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[Running]:
    key, cert = certificate
    context = server_context(key, cert)
    sio = make_sio(Recorder())
    with serving(sockio_wsgi.WSGIApp(sio), ssl_context=context) as running:
        try:
            yield running
        finally:
            sio.close()


@pytest.mark.parametrize("transports", [None, ["polling"], ["websocket"]])
def test_tls_with_trusted_context(
    tls_server: Running, certificate: tuple[Path, Path], transports: list[str] | None
) -> None:
    context = ssl.create_default_context(cafile=str(certificate[1]))
    client = sockio_wsgi.Client(ssl_context=context)
    url = f"https://127.0.0.1:{tls_server.port}"
    try:
        client.connect(url, transports=transports)
        assert client.emit_with_ack("echo", b"secret", timeout=5) == b"secret"
    finally:
        client.disconnect()
    assert_no_client_threads()


def test_tls_without_verification(tls_server: Running) -> None:
    client = sockio_wsgi.Client(ssl_verify=False)
    try:
        client.connect(f"wss://127.0.0.1:{tls_server.port}", transports=["websocket"])
        assert client.emit_with_ack("echo", 1, timeout=5) == 1
    finally:
        client.disconnect()


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_tls_untrusted_certificate_is_refused(tls_server: Running, transports: list[str]) -> None:
    client = sockio_wsgi.Client(reconnection=False)
    with pytest.raises(ConnectionError):
        client.connect(f"https://127.0.0.1:{tls_server.port}", transports=transports)
    assert_no_client_threads()
