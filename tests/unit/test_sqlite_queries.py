"""The named-statement file format (relay/store/sqlite/queries.py)."""

import pytest

from relay.store.sqlite.queries import parse

TEXT = """-- a header comment, not a statement

-- one --
-- why it exists
SELECT 1 FROM runs WHERE source = ?;

-- two --
UPDATE runs
SET status = ?;
"""


def test_names_map_to_their_statements_without_the_semicolon() -> None:
    found = parse(TEXT)
    assert list(found) == ["one", "two"]
    assert found["one"] == "-- why it exists\nSELECT 1 FROM runs WHERE source = ?"
    assert found["two"] == "UPDATE runs\nSET status = ?"


def test_a_name_used_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse(TEXT + "\n-- one --\nSELECT 2;\n")
