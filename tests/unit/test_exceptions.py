"""The package's exceptions are also the builtins of the same name."""

from __future__ import annotations

import builtins

import pytest

import sockio_wsgi


def test_an_ack_timeout_is_caught_as_the_builtin_timeout_error() -> None:
    with pytest.raises(builtins.TimeoutError) as caught:
        raise sockio_wsgi.TimeoutError("no ack", replies=["a"])
    assert isinstance(caught.value, sockio_wsgi.SocketIOError)
    assert str(caught.value) == "no ack" and caught.value.replies == ["a"]


def test_a_refusal_is_the_builtin_connection_refused_error() -> None:
    with pytest.raises(builtins.ConnectionRefusedError) as caught:
        raise sockio_wsgi.ConnectionRefusedError("unauthorized", {"hint": "log in"})
    assert isinstance(caught.value, sockio_wsgi.SocketIOError)
    assert (caught.value.message, caught.value.data) == ("unauthorized", {"hint": "log in"})
    assert str(caught.value) == "unauthorized"
    refused = sockio_wsgi.ConnectionRefusedError({"reason": "full"})
    assert (refused.message, refused.data) == ("Connection refused", {"reason": "full"})
