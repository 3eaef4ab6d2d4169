"""A self-signed certificate for 127.0.0.1, made with openssl, for TLS tests."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

from tests.helpers.requirements import missing


def self_signed(directory: Path) -> tuple[Path, Path]:
    """Write ``key.pem`` and ``cert.pem`` into ``directory`` and return their paths."""
    if shutil.which("openssl") is None:
        missing("openssl is not installed")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return key, cert


def server_context(key: Path, cert: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context
