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


def test_clean_documents_of_every_shape_pass() -> None:
    assert loads(b'"plain"') == "plain"
    assert loads(b"17") == 17
    assert loads(b'{"a": "\\\\u0000 is only text here"}') == {"a": "\\u0000 is only text here"}
    deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(deep.encode()) is not None
    assert loads('{"a": "caf\u00e9 \U0001f600"}'.encode("utf-16")) == {"a": "caf\u00e9 \U0001f600"}


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
        (b'[{"a": "\xed\xb0\x80"}]', "JSON string with a lone surrogate (\\udc00) at $[0].a"),
        (b'{"a": ["x\\u0000"]}', "JSON string with a NUL character (\\u0000) at $.a[0]"),
        ('{"a": "\\uDBFF"}', "JSON string with a lone surrogate (\\udbff) at $.a"),
        ('["\ud800"]', "JSON string with a lone surrogate (\\ud800) at $[0]"),  # a str holding one
        (b'{"a": "\xff"}', "malformed JSON: not UTF-8 (invalid start byte at byte 7)"),
        ('{"a": ', "malformed JSON: Expecting value: line 1 column 7 (char 6)"),
    ],
)
def test_what_it_refuses(raw: str | bytes, message: str) -> None:
    with pytest.raises(BadJson) as caught:
        loads(raw)
    assert str(caught.value) == message
