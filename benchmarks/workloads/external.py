"""Workloads from benchmark modules other helpers write (``benchmarks/bench_*.py``).

Each is adapted here when its module exists; when it does not, it is listed
in ``MISSING`` and the runner says so.
"""

from __future__ import annotations

from harness import Workload

GROUPS: dict[str, list[type[Workload]]] = {}
MISSING: dict[str, str] = {}
