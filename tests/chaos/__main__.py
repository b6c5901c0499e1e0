"""python -m tests.chaos [--runs N] [--replicas 3] [--seconds S] [--seed N] [--keep]

Exits 0 when nothing was lost, no run was notified under two delivery ids, every resend
followed a kill, one replica at a time polled and each digest window was sent once; 1 otherwise."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tests.chaos.run import Options, run_chaos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=Options.runs)
    parser.add_argument("--replicas", type=int, default=Options.replicas)
    parser.add_argument("--seconds", type=float, default=Options.seconds, help="how long runs are started")
    parser.add_argument("--lease-ttl", type=float, default=Options.lease_ttl)
    parser.add_argument("--seed", type=int, help="the random choices (kills, outcomes) of an earlier run")
    parser.add_argument("--keep", action="store_true", help="keep the replicas' logs")
    args = parser.parse_args(argv)
    if args.replicas < 2 or args.runs < 1 or args.seconds <= 0:
        parser.error("needs --replicas >= 2, --runs >= 1 and --seconds > 0")
    options = Options(
        runs=args.runs,
        replicas=args.replicas,
        seconds=args.seconds,
        lease_ttl=args.lease_ttl,
        seed=args.seed,
        keep=args.keep,
    )
    verdict = asyncio.run(run_chaos(options))
    print(verdict.summary())
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
