"""The documented webhook contracts: valid schemas, the example valid, formats really checked."""

import json

import jsonschema
import pytest

from tests.checks import DOCS, validate_payload

EXAMPLE = json.loads((DOCS / "webhook-payload.example.json").read_text())


@pytest.mark.parametrize("name", sorted(p.name for p in DOCS.glob("*.schema.json")))
def test_every_schema_is_a_valid_json_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads((DOCS / name).read_text()))


def test_the_example_payload_follows_its_schema() -> None:
    validate_payload(EXAMPLE)


def test_date_time_formats_are_really_checked() -> None:
    # without rfc3339-validator installed, jsonschema skips "date-time" silently
    for bad in ("yesterday", "2026-11-25 12:00", "2026-13-25T12:00:00Z"):
        with pytest.raises(jsonschema.ValidationError, match="date-time"):
            validate_payload(EXAMPLE | {"observed_at": bad})


def test_a_group_carries_payloads_that_follow_the_single_schema() -> None:
    group = {"type": "run.transition.group", "version": "1", "rule": "r", "count": 2, "items": [EXAMPLE] * 2}
    validate_payload(group)
    broken = EXAMPLE | {"run": EXAMPLE["run"] | {"finished_at": "soon"}}
    with pytest.raises(jsonschema.ValidationError, match="date-time"):
        validate_payload(group | {"items": [EXAMPLE, broken]})


def test_only_web_links_are_documented_links() -> None:
    link = {"label": "Video", "url": "javascript:alert(1)"}
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        validate_payload(EXAMPLE | {"message": EXAMPLE["message"] | {"links": [link]}})
