"""The `relay` command.

An expected failure (a broken rules file, a platform that refuses the key or cannot be
reached, a database that cannot be opened, Ctrl-C) ends with `error: ...` on stderr (one line
per mistake) and a non-zero exit, never a traceback; a reader that goes away (`relay
deliveries | head -1`) ends the output quietly. Anything else is a bug: one line as well,
and with RELAY_DEBUG=1 its traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

from relay import secrets
from relay.config import RuleSet
from relay.errors import ConfigError, ConfigErrors, RelayError, SourceError
from relay.settings import Settings

INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            config_path=getattr(args, "config", None),
            database_url=getattr(args, "database", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workers_count=getattr(args, "workers", None),
            role=getattr(args, "role", None),
        )
        code = int(args.handler(args, settings))
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except ConfigErrors as exc:
        return _fail(*map(str, exc.errors))
    except RelayError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", code=INTERRUPTED)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor at exit
        return 1
    except Exception as exc:
        if os.environ.get("RELAY_DEBUG"):
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} (RELAY_DEBUG=1 shows the traceback)")


def _fail(*lines: str, code: int = 1) -> int:
    for line in lines:
        print(f"error: {' '.join(secrets.redact(line).split())}", file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relay",
        usage="%(prog)s [-h] [--version] COMMAND ...",
        description="Run updates in, notifications out.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"relay {version('run-relay')}")
    # listed in the epilog: argparse's own list wraps names longer than `serve`
    sub = parser.add_subparsers(required=True, metavar="COMMAND", help=argparse.SUPPRESS)
    listed: list[str] = []

    def command(name: str, run: object, help: str) -> argparse.ArgumentParser:
        listed.append(f"  {name:<12}{help}")
        p = sub.add_parser(name, description=help)
        p.set_defaults(handler=run)
        p.add_argument("--config", help="rules file (default: $RELAY_CONFIG or rules.yaml)")
        p.add_argument("--database", help="database URL (default: $RELAY_DATABASE_URL or sqlite:///relay.db)")
        return p

    serve = command("serve", _serve, "run the relay: webhooks, pollers, delivery")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers", type=int, metavar="N", help="N processes sharing the port (default: $RELAY_WORKERS or 1)"
    )
    serve.add_argument(
        "--role",
        help="all (default, or $RELAY_ROLE) or a comma-separated choice of ingest, deliver, poll",
    )
    serve.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # a child of --workers: its socket
    check = command("check", _check, "validate a rules file; exit 1 with file:line on errors")
    check.add_argument("file", nargs="?", help="rules file (default: --config)")
    command("poll-once", _poll_once, "poll every configured source once and store what changed")
    deliveries = command("deliveries", _deliveries, "list recent deliveries")
    deliveries.add_argument("--dead", action="store_true", help="only dead letters")
    deliveries.add_argument("--limit", type=int, default=50)
    preview = command("preview", _preview, "show what each channel of a rule would receive for a run")
    preview.add_argument("rule", help="the rule's name")
    given = preview.add_mutually_exclusive_group(required=True)
    given.add_argument("--run", metavar="FILE", help="a run object as the platform returns it (JSON)")
    given.add_argument("--run-id", help="a run recorded in the store")
    preview.add_argument("--source", help="the source the run belongs to (default: the first one)")
    backtest = command(
        "backtest", _backtest, "what a candidate rules file would have sent for the recorded runs"
    )
    backtest.add_argument("file", help="the candidate rules file")
    backtest.add_argument("--since", default="7d", help="how far back (default 7d)")
    backtest.add_argument("--json", action="store_true", help="the whole answer, as POST /admin/backtest")
    silence = command("silence", _silence, "mute matching notifications for a while (add, list, expire)")
    silence.add_argument("action", choices=("add", "list", "expire"))
    silence.add_argument("id", nargs="?", help="the silence to expire")
    silence.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="KEY=GLOB",
        help="source, task, status, phase, rule or channel (repeatable)",
    )
    silence.add_argument("--for", dest="duration", default="1h", help="how long (default 1h)")
    silence.add_argument("--comment", default="")
    silence.add_argument("--all", action="store_true", help="list: ended silences too")
    replay = command("replay", _replay, "send a dead (or sent) delivery again")
    replay.add_argument("id")
    prune = command("prune", _prune, "delete what rules.yaml's retention lets go (table -> rows)")
    prune.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    backup = command("backup", _backup, "copy the SQLite database to FILE, safe while serving")
    backup.add_argument("file", help="where the copy goes (must not exist)")
    parser.epilog = "commands:\n" + "\n".join(listed) + "\n\n`relay COMMAND --help` for its options"
    return parser


def _load_ruleset(path: Path | str) -> RuleSet:
    """The source kinds register their options when relay.sources.registry is imported;
    imported here, late like the other commands' imports, so that `relay --help` stays quick."""
    import relay.sources.registry  # noqa: F401
    from relay.config import load_ruleset

    return load_ruleset(path)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from relay.app import create_app
    from relay.observability import setup_logging
    from relay.web.protocol import with_head_timeout

    setup_logging(settings.log_level, settings.log_format)
    _load_ruleset(settings.config_path)  # fail fast, before binding the port
    asyncio.run(_can_open(settings.database_url))
    if settings.workers_count > 1 and args.fd is None:
        from relay.supervisor import Supervisor

        try:
            roles = args.role or os.environ.get("RELAY_ROLE", "all")
            supervisor = Supervisor(settings, roles, settings.workers_count)
        except OSError as exc:
            raise RelayError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from exc
        return supervisor.run()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # slow or too many clients (README, "Operating it"): heads and bodies have deadlines
        http=with_head_timeout(settings.client_timeout),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=5,
    )
    if args.fd is None:
        uvicorn.Server(config).run()
    else:  # a child of --workers: the supervisor's socket, as TCP (see inherited_socket)
        from relay.supervisor import inherited_socket

        uvicorn.Server(config).run(sockets=[inherited_socket(args.fd)])
    return 0


async def _can_open(database_url: str) -> None:
    from relay.store import open_store

    await (await open_store(database_url)).close()


def _check(args: argparse.Namespace, settings: Settings) -> int:
    path = args.file or settings.config_path
    from relay.rules.template_check import template_failures

    ruleset = _load_ruleset(path)
    _check_channels(ruleset)
    if failures := template_failures(ruleset):
        print("\n".join(failures), file=sys.stderr)
        return 1
    print(
        f"{path}: ok ({len(ruleset.sources)} sources, {len(ruleset.channels)} channels,"
        f" {len(ruleset.rules)} rules)"
    )
    for name, channel in ruleset.channels.items():
        if not channel.enabled:
            print(f"{path}:{channel.line}: note: channel {name!r} has no URL and is disabled")
    return 0


def _check_channels(ruleset: RuleSet) -> None:
    from relay.channels.apprise_channel import build

    for name, channel in ruleset.channels.items():
        if channel.kind == "apprise" and channel.enabled:
            try:
                build(channel.url)
            except ValueError as exc:
                raise ConfigError(f"channel {name!r}: {exc}", ruleset.path, channel.line) from exc


def _poll_once(args: argparse.Namespace, settings: Settings) -> int:
    from relay.service import Relay

    async def run() -> int:
        relay = await Relay.start(replace(settings, workers=False, pollers=False, scheduler=False))
        try:
            if not relay.pollers:
                return _fail("no source has polling enabled (set an api_key)")
            failed = 0
            for name, poller in relay.pollers.items():
                try:
                    print(f"{name}: {(await poller.poll_once()).summary()}")
                except SourceError as exc:  # the next source may still answer
                    failed += _fail(f"{name}: {exc}")
            return 1 if failed else 0
        finally:
            await relay.stop()

    return asyncio.run(run())


def _deliveries(args: argparse.Namespace, settings: Settings) -> int:
    from relay.channels.base import EXCERPT_LIMIT
    from relay.models import DeliveryStatus
    from relay.render.escape import one_line
    from relay.store import open_store

    async def run() -> int:
        store = await open_store(settings.database_url)
        try:
            found = await store.deliveries(DeliveryStatus.DEAD if args.dead else None, args.limit)
        finally:
            await store.close()
        for d in found:
            # a title and a receiver's words are untrusted: one line, no control characters for
            # the terminal to obey; the error whole (a reason and an excerpt of at most 300)
            error = f"  [{one_line(d.last_error, 2 * EXCERPT_LIMIT)}]" if d.last_error else ""
            print(
                f"{d.id}  {d.status.value:<8} {d.channel:<16} {d.rule:<20} tries={d.attempts}"
                f"  {one_line(d.message.title)}{error}"
            )
        if not found:
            print("no deliveries", file=sys.stderr)
        return 0

    return asyncio.run(run())


def _preview(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from relay.clock import SystemClock
    from relay.preview import PreviewError, preview, run_for_preview
    from relay.store import open_store

    ruleset = _load_ruleset(settings.config_path)

    try:
        body = json.loads(Path(args.run).read_text()) if args.run else None
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the run {args.run}: {exc}", file=sys.stderr)
        return 1

    async def run() -> int:
        store = await open_store(settings.database_url)
        try:
            snapshot = await run_for_preview(ruleset, store, args.source, body, args.run_id)
            now = SystemClock().now()
            shown = preview(ruleset, args.rule, snapshot, await store.silences(now), now)
            print(json.dumps(shown, indent=2, ensure_ascii=False))
        except PreviewError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            await store.close()
        return 0

    return asyncio.run(run())


def _backtest(args: argparse.Namespace, settings: Settings) -> int:
    """Reads the store only: nothing is sent or written."""
    import json
    from datetime import timedelta

    from relay.backtest import backtest, lines
    from relay.clock import SystemClock
    from relay.durations import parse_duration
    from relay.store import open_store

    in_force, candidate = _load_ruleset(settings.config_path), _load_ruleset(args.file)
    try:
        since = SystemClock().now() - timedelta(seconds=parse_duration(args.since))
    except ValueError as exc:
        return _fail(f"--since: {exc} (e.g. 7d, 12h)")

    async def run() -> dict[str, object]:
        store = await open_store(settings.database_url)
        try:
            return await backtest(in_force, candidate, store, since)
        finally:
            await store.close()

    found = asyncio.run(run())
    print(json.dumps(found, indent=2, ensure_ascii=False) if args.json else "\n".join(lines(found)))
    return 0


def _silence(args: argparse.Namespace, settings: Settings) -> int:
    """Acts on the store: a running relay picks the change up within seconds."""
    import getpass
    import json
    from datetime import timedelta

    from relay.clock import SystemClock
    from relay.durations import parse_duration
    from relay.silences import new_silence, silence_json
    from relay.store import open_store

    now = SystemClock().now()
    try:
        matchers = dict(m.split("=", 1) for m in args.match)
        created = (
            new_silence(
                matchers,
                now,
                now + timedelta(seconds=parse_duration(args.duration)),
                args.comment,
                getpass.getuser(),
            )
            if args.action == "add"
            else None
        )
    except ValueError as exc:
        print(f"error: {exc} (e.g. --match task=create-* --for 2h)", file=sys.stderr)
        return 1

    async def run() -> int:
        store = await open_store(settings.database_url)
        try:
            if created is not None:
                await store.add_silence(created)
                print(json.dumps(silence_json(created, now)))
            elif args.action == "list":
                for s in await store.silences(None if args.all else now):
                    print(json.dumps(silence_json(s, now)))
            elif not args.id or not await store.expire_silence(args.id, now):
                print(f"no active silence with id {args.id}", file=sys.stderr)
                return 1
            else:
                print(f"expired {args.id}")
        finally:
            await store.close()
        return 0

    return asyncio.run(run())


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from relay.clock import SystemClock
    from relay.store import open_store

    async def run() -> int:
        store = await open_store(settings.database_url)
        try:
            ok = await store.replay(args.id, SystemClock().now())
        finally:
            await store.close()
        print(
            f"replayed {args.id}: a running relay sends it within a second"
            if ok
            else f"no dead or sent delivery with id {args.id}",
            file=sys.stdout if ok else sys.stderr,
        )
        return 0 if ok else 1

    return asyncio.run(run())


def _prune(args: argparse.Namespace, settings: Settings) -> int:
    from relay.clock import SystemClock
    from relay.store import open_store

    retention = _load_ruleset(settings.config_path).retention

    async def run() -> dict[str, int]:
        store = await open_store(settings.database_url)
        try:
            return await store.prune(retention, SystemClock().now(), dry_run=args.dry_run)
        finally:
            await store.close()

    counts = asyncio.run(run())
    for table, rows in counts.items():
        print(f"{table:<14}{rows:>10}")
    done = "would be deleted (dry run: nothing was)" if args.dry_run else "deleted"
    print(f"{sum(counts.values())} rows {done}", file=sys.stderr)
    return 0


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from relay.errors import StoreError
    from relay.store.sqlite.backup import backup

    url = settings.database_url
    if not url.startswith("sqlite:///"):
        raise StoreError(
            f"relay backup copies a SQLite database; {url.split(':', 1)[0]!r} is not one. For"
            " PostgreSQL use pg_dump with the URL's database and its ?schema= (libpq does not"
            " take the relay's ?schema= and ?pool= parameters): pg_dump --format=custom"
            " --schema=SCHEMA --file=FILE postgresql://USER@HOST/DB (docs/operations.md)"
        )
    copied = backup(url.removeprefix("sqlite:///"), args.file)
    print(
        f"backed up {url.removeprefix('sqlite:///')} to {args.file}: {copied.pages} pages,"
        f" {copied.bytes} bytes, schema version {copied.schema_version}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
