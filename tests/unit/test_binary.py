"""Binary attachments: placeholders out, bytes back in."""

from __future__ import annotations

from typing import Any

import pytest

from sockio_wsgi.protocol.binary import deconstruct, has_binary, reconstruct
from sockio_wsgi.protocol.errors import ProtocolError


def ph(num: int) -> dict[str, Any]:
    return {"_placeholder": True, "num": num}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytearray(b"x"),
        memoryview(b"x"),
        [1, [2, [3, b"x"]]],
        (1, b"x"),
        {"a": {"b": [memoryview(b"y")]}},
        [{"k": bytearray(b"")}],
    ],
)
def test_has_binary_true(data: Any) -> None:
    assert has_binary(data)


@pytest.mark.parametrize(
    "data",
    [None, 1, "bytes", [], {}, [1, "2", {"b": [None, True, 2.5]}], {b"key": 1}, ("a",)],
)
def test_has_binary_false(data: Any) -> None:
    # dict keys do not count: only values are walked
    assert not has_binary(data)


def test_deconstruct_top_level_bytes() -> None:
    assert deconstruct(b"abc") == (ph(0), [b"abc"])


def test_deconstruct_numbers_attachments_in_depth_first_order() -> None:
    data = [
        "event",
        b"first",
        {"nested": [bytearray(b"second"), {"deep": memoryview(b"third")}], "n": 1},
        (b"fourth", "text"),
    ]
    replaced, attachments = deconstruct(data)
    assert replaced == [
        "event",
        ph(0),
        {"nested": [ph(1), {"deep": ph(2)}], "n": 1},
        [ph(3), "text"],
    ]
    assert attachments == [b"first", b"second", b"third", b"fourth"]
    assert all(type(a) is bytes for a in attachments)


def test_deconstruct_without_binary_keeps_data() -> None:
    data = {"a": [1, "x", None], "b": {"c": 2.5}}
    assert deconstruct(data) == (data, [])


def test_deconstruct_does_not_mutate_input() -> None:
    inner = [b"x"]
    data = {"k": inner}
    deconstruct(data)
    assert data == {"k": [b"x"]}
    assert data["k"] is inner


def test_same_bytes_object_twice_gives_two_attachments() -> None:
    blob = b"same"
    replaced, attachments = deconstruct([blob, blob])
    assert replaced == [ph(0), ph(1)]
    assert attachments == [blob, blob]


def test_memoryview_slice_is_copied_exactly() -> None:
    view = memoryview(b"0123456789")[2:5]
    assert deconstruct([view]) == ([ph(0)], [b"234"])


def test_reconstruct_puts_bytes_back() -> None:
    data = ["event", ph(1), {"a": [ph(0), {"b": ph(1)}], "c": 3}]
    assert reconstruct(data, [b"zero", b"one"]) == [
        "event",
        b"one",
        {"a": [b"zero", {"b": b"one"}], "c": 3},
    ]


def test_reconstruct_top_level_placeholder() -> None:
    assert reconstruct(ph(0), [b"x"]) == b"x"


def test_round_trip() -> None:
    data = ["e", {"x": [b"\x00\xff", bytearray(b"b"), 1, None]}, memoryview(b"m")]
    replaced, attachments = deconstruct(data)
    assert reconstruct(replaced, attachments) == [
        "e",
        {"x": [b"\x00\xff", b"b", 1, None]},
        b"m",
    ]


@pytest.mark.parametrize("num", [1, 2, -1, 100])
def test_placeholder_out_of_range(num: int) -> None:
    with pytest.raises(ProtocolError, match="missing attachment"):
        reconstruct(["e", ph(num)], [b"only"])


def test_placeholder_without_attachments() -> None:
    with pytest.raises(ProtocolError):
        reconstruct([ph(0)], [])


@pytest.mark.parametrize("num", ["0", 0.0, True, False, None, [0], {"n": 0}])
def test_placeholder_num_must_be_an_int(num: Any) -> None:
    with pytest.raises(ProtocolError):
        reconstruct([{"_placeholder": True, "num": num}], [b"a", b"b"])


def test_placeholder_nested_deep_in_dict_out_of_range() -> None:
    with pytest.raises(ProtocolError):
        reconstruct({"a": {"b": [[{"c": ph(3)}]]}}, [b"a"])


@pytest.mark.parametrize(
    "lookalike",
    [
        {"_placeholder": False, "num": 0},
        {"_placeholder": 1, "num": 0},
        {"_placeholder": "true", "num": 0},
        {"_placeholder": True},
        {"_placeholder": True, "num": 0, "extra": 1},
        {"_placeholder": True, "n": 0},
    ],
)
def test_lookalikes_are_left_alone(lookalike: dict[str, Any]) -> None:
    assert reconstruct([lookalike], [b"a"]) == [lookalike]


def test_reconstruct_leaves_scalars() -> None:
    assert reconstruct(["a", 1, None, 2.5, True], []) == ["a", 1, None, 2.5, True]
