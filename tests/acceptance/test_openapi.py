"""The OpenAPI document: served as kept in docs/, covering every route, and true of the running
relay: schemathesis sends generated valid and invalid requests to `relay serve` and checks
that no answer is a 5xx and every answer matches the document (status, content type, body)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2 as httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err, Ok
from schemathesis.errors import InvalidSchema
from schemathesis.schemas import APIOperation

from relay.web.openapi import DOCUMENT
from relay.web.routes import ROUTES
from tests.acceptance.harness import ADMIN_TOKEN, ROOT, relay_process

Operation = APIOperation[Any, Any, Any, Any]
# the admin token for the document's `bearer` scheme: negative cases then also drop or spoil it
AUTH = SchemathesisConfig.from_dict({"auth": {"openapi": {"bearer": {"bearer": ADMIN_TOKEN}}}})
NEGATIVE = schemathesis.GenerationMode.NEGATIVE
EXAMPLES = 20  # per operation and mode: the whole run stays well under a minute
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
RULES = """
sources: {recoup: {kind: recoup}}
channels: {console: {kind: console}}
rules:
  - {name: failures, match: {phase: problem}, notify: [console]}
"""


def test_every_route_is_documented() -> None:
    routed = {(r.path, m.lower()) for r in ROUTES for m in (r.methods or ()) if m != "HEAD"}
    documented = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    assert routed == documented


def test_the_relay_serves_the_document_kept_in_docs(tmp_path: Path) -> None:
    kept = json.loads((ROOT / "docs" / "openapi.json").read_text())
    config = tmp_path / "rules.yaml"
    config.write_text(RULES)
    with relay_process(config, tmp_path / "relay.db") as relay:
        served = httpx.get(f"{relay.url}/openapi.json")
    assert served.status_code == 200 and served.json() == kept == DOCUMENT


def test_generated_requests_get_documented_answers_and_never_a_5xx(tmp_path: Path) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text(RULES)
    with relay_process(config, tmp_path / "relay.db") as relay:
        schema = schemathesis.openapi.from_url(f"{relay.url}/openapi.json", config=AUTH)
        operations = [_usable(result) for result in schema.get_all_operations()]
        # every path but the document's own, which schemathesis leaves out when loading from it
        assert {o.path for o in operations} == set(DOCUMENT["paths"]) - {"/openapi.json"}
        for operation in operations:
            _exercise(operation.as_strategy(), relay.url)
            if _can_be_wrong(DOCUMENT["paths"][operation.path][operation.method.lower()]):
                _exercise(operation.as_strategy(generation_mode=NEGATIVE), relay.url)


def _usable(result: Ok[Operation] | Err[InvalidSchema]) -> Operation:
    if isinstance(result, Err):
        raise result.err()  # the document itself is wrong
    return result.ok()


def _can_be_wrong(operation: dict[str, Any]) -> bool:
    """A body or a query parameter can be sent wrong; a path has only strings, anything else none."""
    in_query = any(p["in"] == "query" for p in operation.get("parameters", []))
    return in_query or "requestBody" in operation


def _exercise(cases: st.SearchStrategy[Any], url: str) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=cases)
    def check(case: Any) -> None:
        case.call_and_validate(base_url=url, checks=CHECKS)

    check()
