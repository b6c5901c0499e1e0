"""The one decoder of untrusted JSON: what it keeps, what it refuses and how it says so."""

from __future__ import annotations

import pytest

from relay.errors import BadJson
from relay.jsonin import MAX_DEPTH, loads


def test_ordinary_json_and_the_edges_it_keeps() -> None:
    assert loads(b'{"a": [1, -2.5, "\\ud83d\\ude00", null, true]}') == {"a": [1, -2.5, "😀", None, True]}
    assert loads(str(2**63 - 1)) == 2**63 - 1 and loads(str(-(2**63 - 1))) == -(2**63 - 1)
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads("1e-999") == 0.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "JSON nested deeper than 64 levels"),
        ("[" * 100_000, "JSON nested deeper than 64 levels"),
        (str(2**63), "JSON number out of range (beyond 64 bits): 9223372036854775808"),
        ("7" * 5000, "JSON number out of range (beyond 64 bits): 77777777777777777777... (5000 characters)"),
        ("[1e400]", "JSON number out of range: 1e400"),
        ('{"x": Infinity}', "malformed JSON: Infinity is not a JSON value"),
        ('{"run": {"tags": ["a\\ud800"]}}', "JSON string with a lone surrogate (\\ud800) at $.run.tags[0]"),
        ('{"a\\u0000b": 1}', "JSON string with a NUL character (\\u0000) at $"),
        (b'"\xed\xa0\x80"', "JSON string with a lone surrogate (\\ud800) at $"),  # UTF-8 of a surrogate
        (b'{"a": "\xff"}', "malformed JSON: not UTF-8 (invalid start byte at byte 7)"),
        ('{"a": ', "malformed JSON: Expecting value: line 1 column 7 (char 6)"),
    ],
)
def test_what_it_refuses(raw: str | bytes, message: str) -> None:
    with pytest.raises(BadJson) as caught:
        loads(raw)
    assert str(caught.value) == message
