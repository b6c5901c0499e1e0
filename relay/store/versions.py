"""The one rule both SQL backends keep about schema versions."""

from __future__ import annotations

from relay.errors import StoreError


def check_version(found: int, known: int) -> None:
    """A relay older than its database would misread it (a rollback after an upgrade that
    migrated): it refuses to start and says what to do instead."""
    if found > known:
        raise StoreError(
            f"database schema version {found} is newer than this relay knows ({known}): upgrade "
            "the relay, or restore the backup taken before the upgrade to run this version"
        )
