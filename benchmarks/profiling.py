"""``run.py --only NAME --profile ARM``: cProfile one arm of a workload.

Runs the workload's setup and one untimed warm-up, then profiles ``rounds``
runs of the arm and prints the functions with the most cumulative and most
internal time, so the dialect's share of a hot path is visible next to
SQLAlchemy's and the driver's.
"""

from __future__ import annotations

import cProfile
import io
import pstats

from harness import Workload


def profile_arm(workload: Workload, label: str, rounds: int, limit: int = 30) -> pstats.Stats:
    workload.setup()
    arm = workload.make_arm(label)
    try:
        workload.before(arm)
        workload.check(arm, workload.run(arm))
        workload.after(arm)
        profiler = cProfile.Profile()
        for _ in range(rounds):
            workload.before(arm)
            profiler.enable()
            result = workload.run(arm)
            profiler.disable()
            workload.check(arm, result)
            workload.after(arm)
    finally:
        workload.close_arm(arm)
        workload.teardown()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    print(f"== {workload.name} / {label}: {rounds} runs ==")
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    dialect = io.StringIO()
    pstats.Stats(profiler, stream=dialect).sort_stats("cumulative").print_stats(
        "aurora_dsql_sqlalchemy", limit
    )
    print(out.getvalue())
    print("-- aurora_dsql_sqlalchemy functions --")
    print(dialect.getvalue())
    return stats
