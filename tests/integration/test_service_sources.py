"""Which sources the running relay polls: credentials where the platform needs them."""

from __future__ import annotations

from pathlib import Path

from relay.service import Relay
from relay.settings import Settings


async def test_pollers_follow_each_kind_s_need_for_credentials(tmp_path: Path) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text("""
sources:
  recoup-no-key: {kind: recoup}
  recoup-keyed: {kind: recoup, api_key: placeholder-recoup-key-0123456789}
  runner-open: {kind: taskrunner, tasks: [backup]}
  runner-off: {kind: taskrunner, enabled: false}
""")
    settings = Settings(
        config_path=str(config), database_url="memory://", workers=False, pollers=False, scheduler=False
    )
    relay = await Relay.start(settings)
    try:
        assert set(relay.pollers) == {"recoup-keyed", "runner-open"}
        status = relay.source_status()
        assert status["runner-off"]["enabled"] is False and status["recoup-no-key"]["polling"] is False
    finally:
        await relay.stop()
