"""Connection setup: N new connections (``NullPool``: every checkout connects),
each running ``SELECT 1``.

``stock`` connects with the URL's password.  The dialect's arms connect to the
same server in local mode ``translate``: ``translate`` with the password too
(the dialect's own connect-time work: session defaults DSQL has), ``iam`` with
an IAM token as password (``iam_auth=True``, fake AWS credentials, real SigV4
signing by botocore, as on DSQL: one token signed, then served from the
token cache), and ``iam_sign_each`` with a token signed for every connection
(the cache disabled: the worst case, and what a hand-written ``do_connect``
hook that signs each time costs).  The local server accepts any password, so
the token's bytes travel but are not verified; the check verifies that each
token is a well-formed DSQL token and that the expected number were signed.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from harness import Arm, Workload
from sqlalchemy.pool import NullPool

REGION = "us-east-1"
TOKEN = re.compile(
    r"^[^/]+/\?Action=DbConnect(Admin)?&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    r"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F\d{8}%2Fus-east-1%2Fdsql%2Faws4_request"
    r"&X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
    r"&X-Amz-Signature=[0-9a-f]{64}$"
)


def _fake_credentials() -> None:
    try:  # the auth benchmark's helper, when it exists
        from bench_auth import fake_credentials
    except ImportError:  # pragma: no cover - depends on the checkout
        import os

        os.environ.update(
            AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
            AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
    else:
        fake_credentials()


class Connect(Workload):
    name = "connect"
    arms = ("translate", "iam", "iam_sign_each")

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.connects = 20 if ctx.quick else 200
        self.description = f"{self.connects} new connections (NullPool), SELECT 1 on each"
        _fake_credentials()

    def make_arm(self, label: str) -> Arm:
        if label in ("stock", "stock2"):
            return Arm(label, sa.create_engine(self.ctx.stock_url(), poolclass=NullPool))
        url = self.ctx.dsql_url()
        if label == "translate":
            return Arm(label, sa.create_engine(url, poolclass=NullPool, local_mode="translate"))
        engine = sa.create_engine(
            url.set(password=None),
            poolclass=NullPool,
            local_mode="translate",
            iam_auth=True,
            region=REGION,
        )
        provider = engine.dialect.token_provider  # type: ignore[attr-defined]
        assert provider is not None, "iam_auth=True did not install a token provider"
        if label == "iam_sign_each":
            from aurora_dsql_sqlalchemy.auth import IAMTokenProvider

            # a token is never reused: every connection signs one
            provider = IAMTokenProvider(region=REGION, refresh_margin=10.0**9)
            engine.dialect.connector.token_provider = provider  # type: ignore[attr-defined]
        return Arm(label, engine, {"provider": provider})

    def before(self, arm: Arm) -> None:
        if "provider" in arm.extra:
            arm.extra["signings"] = arm.extra["provider"].signings

    def run(self, arm: Arm) -> Any:
        ones = 0
        for _ in range(self.connects):
            with arm.engine.connect() as conn:
                ones += conn.exec_driver_sql("SELECT 1").scalar()
        return ones

    def check(self, arm: Arm, result: Any) -> None:
        assert result == self.connects, result
        provider = arm.extra.get("provider")
        if provider is None:
            return
        signed = provider.signings - arm.extra["signings"]
        if arm.label == "iam_sign_each":
            assert signed == self.connects, signed
        else:
            assert signed <= 1, signed  # cached for the token's lifetime
        tokens = [cached.token for cached in provider._cache.values()]
        assert tokens and all(TOKEN.match(token) for token in tokens), tokens[:1]


WORKLOADS: list[type[Workload]] = [Connect]
