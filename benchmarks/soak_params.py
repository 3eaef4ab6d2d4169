"""The soak server's options, declared once: the server script parses them and the
harness passes them on (and records them), so the two never disagree on a default."""

from __future__ import annotations

import argparse

QUIET_NAMESPACE = "/quiet"  # a namespace the server broadcasts nothing to

# (option, type, default, help)
SERVER_OPTIONS: tuple[tuple[str, type, float, str], ...] = (
    ("--ping-interval", float, 2.0, "seconds between the server's pings"),
    ("--ping-timeout", float, 2.0, "seconds the server waits for a pong"),
    ("--max-queued-bytes", int, 1_000_000, "bytes one connection may have queued"),
    ("--send-timeout", float, 5.0, "seconds a WebSocket write may make no progress"),
    ("--broadcast-interval", float, 0.1, "seconds between two ticks to every client"),
    ("--payload", int, 1024, "bytes of padding in each tick"),
)


def add_server_options(parser: argparse.ArgumentParser) -> None:
    for flag, kind, default, text in SERVER_OPTIONS:
        parser.add_argument(flag, type=kind, default=default, help=text)


def server_flags(args: argparse.Namespace) -> list[str]:
    """The server options of ``args`` as command-line flags for the server script."""
    return [f"{flag}={getattr(args, dest(flag))}" for flag, *_ in SERVER_OPTIONS]


def server_values(args: argparse.Namespace) -> dict[str, object]:
    return {dest(flag): getattr(args, dest(flag)) for flag, *_ in SERVER_OPTIONS}


def dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")
