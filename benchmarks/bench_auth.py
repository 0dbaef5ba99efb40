"""What IAM auth costs per new connection: the dialect's cached tokens against
a botocore signer created per call.

Run ``python benchmarks/bench_auth.py`` (``--quick`` for a smoke run).  No
network and no AWS account are needed: tokens are signed (for real, by
botocore) with fake credentials set in this process's environment.

Arms, each timed per "connect" (one token obtained):

* ``signer per call``: a botocore session and ``dsql`` client created, then one
  token signed, on every connect: what a ``do_connect`` hook that calls
  ``boto3.client("dsql").generate_db_connect_auth_token(...)`` costs;
* ``client reused``: one client, a fresh signature on every connect;
* ``dialect, pool refill``: :class:`~aurora_dsql_sqlalchemy.auth.IAMTokenProvider`
  serving a burst of connects (a pool filling up): one signature, then the cache;
* ``dialect, 1 connect/s for 1 h``: the same provider with a simulated clock,
  a connect every second for an hour: tokens are re-signed shortly before
  they expire (every 14 minutes by default).

The goal is at most 0.5 ms of signing per connect, amortised, for the dialect
arms; the ratio column is ``arm / signer per call``.  Every token produced is
checked to be a well-formed DSQL token (SigV4 presigned URL for ``dsql``).
Exit status 1 if a check or the goal fails.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable

HOST = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
REGION = "us-east-1"
GOAL_MS = 0.5

TOKEN = re.compile(
    r"^(?P<host>[a-z0-9.-]+)/\?Action=(?P<action>DbConnect|DbConnectAdmin)"
    r"&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    r"&X-Amz-Credential=(?P<key>[A-Z0-9]+)%2F\d{8}%2F(?P<region>[a-z0-9-]+)%2Fdsql%2Faws4_request"
    r"&X-Amz-Date=\d{8}T\d{6}Z"
    r"&X-Amz-Expires=(?P<expires>\d+)"
    r"&X-Amz-SignedHeaders=host"
    r"&X-Amz-Signature=[0-9a-f]{64}$"
)


def fake_credentials() -> None:
    """Fake credentials, no config files, no instance metadata: signing is local."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def check(token: str, action: str) -> None:
    match = TOKEN.match(token)
    if not match:
        raise AssertionError(f"malformed token: {token[:60]}...")
    got = (match["host"], match["action"], match["region"], match["key"], match["expires"])
    want = (HOST, action, REGION, "AKIAIOSFODNN7EXAMPLE", "900")
    if got != want:
        raise AssertionError(f"token fields {got} != {want}")


def timed(fn: Callable[[], str], calls: int, action: str) -> float:
    """Seconds per call over ``calls`` calls; every token is checked (outside the timing)."""
    tokens = []
    start = time.perf_counter()
    for _ in range(calls):
        tokens.append(fn())
    elapsed = time.perf_counter() - start
    for token in set(tokens):
        check(token, action)
    return elapsed / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls: a smoke run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per arm (median)")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    per_call_n = 3 if args.quick else 10
    reused_n = 200 if args.quick else 2_000
    cached_n = 2_000 if args.quick else 20_000

    fake_credentials()
    import botocore.session
    from aurora_dsql_sqlalchemy.auth import IAMTokenProvider

    def signer_per_call() -> str:
        client = botocore.session.Session().create_client("dsql", region_name=REGION)
        return client.generate_db_connect_admin_auth_token(HOST, REGION, 900)  # type: ignore[no-any-return]

    reused = botocore.session.Session().create_client("dsql", region_name=REGION)

    def client_reused() -> str:
        return reused.generate_db_connect_admin_auth_token(HOST, REGION, 900)  # type: ignore[no-any-return]

    rows: list[tuple[str, int, int, float]] = []

    samples = [timed(signer_per_call, per_call_n, "DbConnectAdmin") for _ in range(rounds)]
    rows.append(("signer per call", per_call_n, per_call_n, statistics.median(samples)))
    samples = [timed(client_reused, reused_n, "DbConnectAdmin") for _ in range(rounds)]
    rows.append(("client reused, no cache", reused_n, reused_n, statistics.median(samples)))

    # a pool refill: a burst of connects, first one included (client creation too)
    samples, signings = [], 0
    for _ in range(rounds):
        provider = IAMTokenProvider()
        samples.append(timed(lambda p=provider: p.token(HOST, "admin"), cached_n, "DbConnectAdmin"))
        signings = provider.signings
    rows.append(("dialect, pool refill", cached_n, signings, statistics.median(samples)))

    # one connect per simulated second for an hour
    samples = []
    for _ in range(rounds):
        now = [1_800_000_000.0]

        def tick(provider: IAMTokenProvider, now: list[float] = now) -> str:
            now[0] += 1.0
            return provider.token(HOST, "app")

        provider = IAMTokenProvider(clock=lambda now=now: now[0])
        samples.append(timed(lambda p=provider: tick(p), 3_600, "DbConnect"))
        signings = provider.signings
    rows.append(("dialect, 1 connect/s for 1 h", 3_600, signings, statistics.median(samples)))

    base = rows[0][3]
    print(
        f"IAM token cost per connect (median of {rounds} round(s); goal <= {GOAL_MS} ms amortised)"
    )
    header = f"{'arm':<30} {'connects':>9} {'signings':>9} {'per connect':>13} {'ratio':>9}"
    print(header)
    print("-" * len(header))
    failed = False
    for name, calls, signed, seconds in rows:
        ms = seconds * 1000
        ratio = seconds / base
        mark = ""
        if name.startswith("dialect"):
            ok = ms <= GOAL_MS
            failed |= not ok
            mark = "  ok" if ok else "  MISS"
        print(f"{name:<30} {calls:>9} {signed:>9} {ms:>10.4f} ms {ratio:>9.5f}{mark}")
    refill = rows[2]
    print(
        f"\npool refill: {refill[1]} connects, {refill[2]} signing(s); the dialect is "
        f"{base / refill[3]:,.0f}x cheaper per connect than a signer created per call."
    )
    if rows[2][2] != 1:
        print("FAIL: a pool refill must sign once", file=sys.stderr)
        failed = True
    if not 4 <= rows[3][2] <= 6:
        print(f"FAIL: an hour of connects signed {rows[3][2]} times, expected ~5", file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
