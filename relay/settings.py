"""Process settings, from the environment (secrets never come from the command line)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from relay import secrets
from relay.durations import parse_duration
from relay.errors import ConfigError, RelayError


@dataclass(frozen=True)
class Settings:
    config_path: str = "rules.yaml"
    database_url: str = "sqlite:///relay.db"
    host: str = "127.0.0.1"
    port: int = 8080
    admin_token: str = ""
    max_body_bytes: int = 1024 * 1024
    max_connections: int = 1000  # beyond it new requests get a 503; keep it below `ulimit -n`
    client_timeout: float = 10.0  # seconds a client has to send a request's head, and its body
    log_level: str = "INFO"
    ingest: bool = True  # accept pushed updates at /hooks (off: 503, another process takes them)
    workers: bool = True  # deliver from this process (off: ingest and poll only)
    pollers: bool = True
    scheduler: bool = True  # digests and stuck runs
    scheduler_every: float = 5.0  # seconds between scheduler passes
    # names this process in the store's claims and leader leases; the same after a restart,
    # so a restarted process takes back its own claims and leases at once. Unique per process:
    # by default "<hostname>:<port>"
    replica_id: str = ""
    lease_ttl: float = 15.0  # seconds a leader lease lasts unrenewed: failover takes about this
    workers_count: int = 1  # `relay serve --workers N`: processes sharing the port
    prune_every: float = 3600.0  # seconds between runs of the pruning job (rules.yaml retention)
    log_format: str = "text"  # or "json": one JSON object per line
    # where operators reach this relay (RELAY_PUBLIC_URL, e.g. https://relay.example.com):
    # messages then link each run's page in the console (relay/links.py); "" = no links
    public_url: str = ""
    link_secret: str = ""  # signs those links; by default a key derived from the admin token

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "config_path": env.get("RELAY_CONFIG", cls.config_path),
            "database_url": env.get("RELAY_DATABASE_URL", cls.database_url),
            "host": env.get("RELAY_HOST", cls.host),
            "port": int(env.get("RELAY_PORT", cls.port)),
            "admin_token": env.get("RELAY_ADMIN_TOKEN", ""),
            "max_body_bytes": int(env.get("RELAY_MAX_BODY_BYTES", cls.max_body_bytes)),
            "max_connections": int(env.get("RELAY_MAX_CONNECTIONS", cls.max_connections)),
            "client_timeout": parse_duration(env.get("RELAY_CLIENT_TIMEOUT", cls.client_timeout)),
            "log_level": env.get("RELAY_LOG_LEVEL", cls.log_level),
            "replica_id": env.get("RELAY_REPLICA_ID", ""),
            "workers_count": int(env.get("RELAY_WORKERS", cls.workers_count)),
            "lease_ttl": parse_duration(env.get("RELAY_LEASE_TTL", cls.lease_ttl)),
            "prune_every": parse_duration(env.get("RELAY_PRUNE_EVERY", cls.prune_every)),
            "log_format": env.get("RELAY_LOG_FORMAT", cls.log_format),
            "public_url": public_url(env.get("RELAY_PUBLIC_URL", "")),
            "link_secret": env.get("RELAY_LINK_SECRET", ""),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        given = overrides.get("role")
        role = str(given) if given is not None else env.get("RELAY_ROLE", "all")
        values.pop("role", None)
        settings = with_roles(cls(**values), role)  # type: ignore[arg-type]
        if settings.log_format not in ("text", "json"):
            raise RelayError(f"RELAY_LOG_FORMAT must be text or json, got {settings.log_format!r}")
        # secrets read from the environment, masked like the ${VAR}s of rules.yaml
        secrets.register(settings.admin_token)
        secrets.register(settings.link_secret)
        if settings.public_url and not settings.admin_token:
            raise ConfigError(
                "RELAY_PUBLIC_URL makes messages link the console, which is off without RELAY_ADMIN_TOKEN"
            )
        secrets.register_credentials(settings.database_url)
        return settings

    @property
    def owner(self) -> str:
        """The replica id, or "<hostname>:<port>" when none is set."""
        return self.replica_id or f"{socket.gethostname()}:{self.port}"


def public_url(raw: str) -> str:
    """RELAY_PUBLIC_URL without its trailing slash ("" when unset). Raises ConfigError unless it
    is an absolute http(s) URL with a host and no query or fragment (a path prefix is fine,
    for a relay behind a reverse proxy)."""
    value = raw.strip().rstrip("/")
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        example = "e.g. https://relay.example.com"
        raise ConfigError(f"RELAY_PUBLIC_URL must be an absolute http(s) URL, {example}; got {raw!r}")
    if parts.query or parts.fragment or any(c.isspace() for c in value):
        raise ConfigError(f"RELAY_PUBLIC_URL must have no query, fragment or spaces; got {raw!r}")
    return value


ROLES = ("ingest", "deliver", "poll")


def with_roles(settings: Settings, roles: str) -> Settings:
    """`--role`: what this process does, "all" or a comma-separated choice of: ingest (webhooks
    at /hooks), deliver (the delivery worker), poll (the pollers and the clock's jobs: digests,
    stuck runs, pruning). Every process serves the admin API, /metrics and the health checks.
    Raises ConfigError for an unknown role."""
    chosen = {r.strip() for r in roles.split(",") if r.strip()}
    if chosen == {"all"}:
        chosen = set(ROLES)
    if not chosen or not chosen <= set(ROLES):
        raise ConfigError(f"--role {roles!r}: expected all or a comma-separated choice of {', '.join(ROLES)}")
    poll = "poll" in chosen
    return replace(
        settings, ingest="ingest" in chosen, workers="deliver" in chosen, pollers=poll, scheduler=poll
    )
