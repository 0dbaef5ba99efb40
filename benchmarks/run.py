"""Benchmarks: the DSQL dialect side by side with stock SQLAlchemy PostgreSQL.

Run ``hatch run bench:all`` (or ``python benchmarks/run.py``).  An embedded
PostgreSQL 16 is started (or ``AURORA_DSQL_TEST_URL`` is used), and every
workload runs in this process on that server with stock
``postgresql+psycopg``, a second stock engine (the noise floor), and
``auroradsql+psycopg`` in local mode ``translate`` and ``strict``, alternating,
for ``--rounds`` rounds.  The table shows median times and the ratio
``arm / stock`` per workload (the median over the rounds of the two arms'
times in the same round); ``noise`` is the stock-vs-stock ratio of the
same run.  Absolute times on a shared machine are noise, ratios are not.

Options::

    --rounds N        timed rounds per workload (default 15)
    --quick           3 rounds and small data: a smoke run of a few seconds
    --only a,b        workloads or groups: orm, core, core_select, core_insert,
                      reflection, ddl, auth, bulk, counter
    --driver NAME     psycopg (default) or psycopg2
    --no-noise        skip the stock-vs-stock arm
    --json PATH       also write the medians and ratios as JSON
    --profile ARM     profile one workload's arm with cProfile (with --only)
    --server-setting NAME=VALUE
                      a PostgreSQL setting for every session of the run
                      (``ALTER DATABASE ... SET``, reset at the end, so other
                      clients of that database get it meanwhile); repeatable.
                      ``synchronous_commit=off`` takes the disk's flush of every
                      COMMIT out of the DDL arms, whose 600 commits per run
                      otherwise make the disk's latency the largest part of
                      their time and of its noise
    -v, --verbose     progress on stderr, round by round

The ``cpu`` column is the ratio of this process's CPU time (SQLAlchemy, the
dialect, the driver; not the server), which a busy machine disturbs less.
``auth`` is the ``connect`` workload (IAM tokens vs password); ``bulk`` and
``counter`` use ``bench_bulk.py`` and ``bench_counter.py`` and are skipped,
with the reason printed, when those cannot be imported.

Exit status 1 when a workload fails (wrong result or error); a missed ratio goal is
reported (``MISS``) but is not an error: ratios depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import sqlalchemy as sa
from harness import Context, Result, Workload, format_notes, format_table, measure
from sqlalchemy.engine import URL, make_url
from workloads import core, ddl, external, orm, reflection

INTERNAL: dict[str, list[type[Workload]]] = {
    "orm": orm.WORKLOADS,
    "core": core.WORKLOADS,
    "reflection": reflection.WORKLOADS,
    "ddl": ddl.WORKLOADS,
}


@contextmanager
def server() -> Iterator[URL]:
    url = os.environ.get("AURORA_DSQL_TEST_URL")
    if url:
        yield make_url(url)
        return
    from aurora_dsql_sqlalchemy.testing.embedded import EmbeddedPostgres

    with EmbeddedPostgres() as pg:
        yield make_url(pg.url)


_SETTING = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.]*)=(?P<value>.*)$")


def server_setting(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of ``--server-setting``."""
    match = _SETTING.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a PostgreSQL setting), not {text!r}")
    return match["name"], match["value"]


@contextmanager
def database_settings(admin: sa.Engine, settings: list[tuple[str, str]]) -> Iterator[dict[str, str]]:
    """The run's ``--server-setting``s, for every session opened from now on
    (``ALTER DATABASE`` of the server's database; reset afterwards, also on
    failure).  The server checks each name and value; what a new session
    then reports for each is yielded (and printed with the results)."""
    if not settings:
        yield {}
        return
    applied: list[str] = []
    try:
        with admin.connect() as conn:
            database = admin.dialect.identifier_preparer.quote(
                conn.exec_driver_sql("SELECT current_database()").scalar()
            )
            for name, value in settings:
                quoted = "'" + value.replace("'", "''") + "'"
                conn.exec_driver_sql(f"ALTER DATABASE {database} SET {name} = {quoted}")
                applied.append(name)
        # a new session (not one of the admin pool's) sees what the workloads' sessions will
        fresh = sa.create_engine(admin.url, poolclass=sa.pool.NullPool)
        try:
            with fresh.connect() as conn:
                seen = {name: str(conn.exec_driver_sql(f"SHOW {name}").scalar()) for name in applied}
        finally:
            fresh.dispose()
        yield seen
    finally:
        if applied:
            with admin.connect() as conn:
                for name in applied:
                    conn.exec_driver_sql(f"ALTER DATABASE {database} RESET {name}")


def select_workloads(only: str | None) -> list[type[Workload]]:
    groups: dict[str, list[type[Workload]]] = dict(INTERNAL)
    groups.update(external.GROUPS)
    names = [name.strip() for name in only.split(",")] if only else list(groups)
    chosen: list[type[Workload]] = []
    for name in names:
        if name in groups:
            found = groups[name]
        else:
            found = [w for ws in groups.values() for w in ws if w.name == name]
            if not found:
                raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(groups)}")
        chosen.extend(w for w in found if w not in chosen)
    return chosen


def machine() -> str:
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}), "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"SQLAlchemy {sa.__version__}, {platform.system()} {platform.machine()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=None)
    parser.add_argument("--driver", default="psycopg", choices=("psycopg", "psycopg2"))
    parser.add_argument("--no-noise", action="store_true")
    parser.add_argument("--json", default=None)
    parser.add_argument("--profile", default=None, metavar="ARM")
    parser.add_argument("--server-setting", type=server_setting, action="append", default=[])
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 15)
    chosen = select_workloads(args.only)

    def progress(message: str) -> None:
        if args.verbose:
            print(f"  {message}", file=sys.stderr, flush=True)

    results: list[Result] = []
    failures: list[str] = []
    started = time.perf_counter()
    with server() as url:
        pg_url = url.set(drivername=f"postgresql+{args.driver}")
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        ctx = Context(pg_url=pg_url, driver=args.driver, quick=args.quick, admin=admin)
        progress(f"server ready after {time.perf_counter() - started:.1f}s")
        settings = ExitStack()
        server_settings: dict[str, str] = {}
        try:
            server_settings = settings.enter_context(database_settings(admin, args.server_setting))
            for workload_cls in chosen:
                workload = workload_cls(ctx)
                if args.profile:
                    from profiling import profile_arm

                    profile_arm(workload, args.profile, rounds)
                    continue
                print(
                    f"{workload.name}: {workload.description}",
                    file=sys.stderr,
                    flush=True,
                )
                workload_started = time.perf_counter()
                try:
                    results.append(
                        measure(workload, rounds, noise=not args.no_noise, progress=progress)
                    )
                    progress(f"{workload.name}: {time.perf_counter() - workload_started:.1f}s")
                except AssertionError as failure:
                    failures.append(f"{workload.name}: wrong result: {failure!r}")
                    print(f"  FAILED: wrong result: {failure!r}", file=sys.stderr)
                except Exception as error:  # report, and go on with the next workload
                    traceback.print_exc()
                    failures.append(f"{workload.name}: error: {error!r}"[:400])
        finally:
            settings.close()
            admin.dispose()
    if args.profile:
        return 0
    print()
    print(
        "Medians over the rounds (after warm-up): ms = median time; ratio = arm / stock wall time "
        "in the same round, noise = stock2 / stock, cpu = arm / stock client CPU time"
    )
    print(format_table(results))
    notes = format_notes(results)
    if notes:
        print(notes)
    print()
    for name, reason in external.MISSING.items():
        if args.only is None or name in args.only.split(","):
            print(f"{name}: not run ({reason})")
    print(f"machine: {machine()}")
    if server_settings:  # as a new session reported them
        print("server settings: " + ", ".join(f"{name}={value}" for name, value in server_settings.items()))
    print(f"total {time.perf_counter() - started:.0f}s")
    for line in failures:
        print(line)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "rounds": rounds,
                    "server_settings": server_settings,
                    "results": [
                        {
                            "workload": r.workload,
                            "description": r.description,
                            "medians_s": {label: r.median(label) for label in r.times},
                            "times_s": r.times,
                            "ratios": {label: r.ratio(label) for label in r.times},
                            "second_baseline": r.second_baseline,
                            "cpu_medians_s": {
                                label: statistics.median(r.cpu[label])
                                for label in r.cpu
                                if r.cpu[label]
                            },
                            "goals": {label: g.max_ratio for label, g in r.goals.items()},
                        }
                        for r in results
                    ],
                },
                indent=2,
            )
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
