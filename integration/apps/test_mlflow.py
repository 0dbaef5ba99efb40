"""MLflow's tracking store, which accepts only URL schemes it knows and
creates its schema with its own chain of Alembic migrations."""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa
from aurora_dsql_sqlalchemy.errors import DSQLUnsupportedError
from sqlalchemy.engine import URL

with warnings.catch_warnings():
    # its models' lazy="noload", deprecated in SQLAlchemy 2.1, is not under test
    warnings.simplefilter("ignore", sa.exc.SADeprecationWarning)
    from mlflow.entities import Metric, ViewType
    from mlflow.exceptions import MlflowException
    from mlflow.store.tracking import sqlalchemy_store as store_module

    sa.orm.configure_mappers()


def tracking(url: URL, tmp_path) -> dict:
    store = store_module.SqlAlchemyStore(url.render_as_string(hide_password=False), str(tmp_path))
    try:
        experiment = store.create_experiment("tuning")
        for i in range(3):
            run = store.create_run(experiment, "ada", 1_700_000_000_000 + i, [], f"run-{i}")
            store.log_metric(run.info.run_id, Metric("loss", 1.0 / (i + 1), 1_700_000_000_000, 0))
        found = store.search_runs([experiment], "metrics.loss < 0.9", ViewType.ALL, order_by=["metrics.loss ASC"])
        return {
            "losses": [r.data.metrics["loss"] for r in found],
            "experiments": sorted(e.name for e in store.search_experiments()),
        }
    finally:
        store.engine.dispose()


def bare_url(urls: dict[str, URL]) -> URL:
    # MLflow parses the scheme with urllib: no underscore, so the bare form
    return urls["postgresql+auroradsql"].set(drivername="postgresql+auroradsql")


def test_the_auroradsql_scheme_is_refused(run_on, tmp_path):
    with pytest.raises(MlflowException, match="Invalid database engine: 'auroradsql'"):
        run_on("auroradsql", lambda url: tracking(url, tmp_path))


def test_the_postgresql_name_is_accepted_and_its_migrations_meet_dsql(run_on, urls, tmp_path):
    # Alembic runs MLflow's chain through the DSQL implementation, which
    # refuses the first step DSQL cannot run (a NOT NULL column with a default)
    urls["bare"] = bare_url(urls)
    with pytest.raises(DSQLUnsupportedError) as refused:
        run_on("bare", lambda url: tracking(url, tmp_path))
    assert refused.value.rule.id == "add-column-constraint"


@pytest.mark.xfail(strict=True, reason="issue 17.4: MLflow's migrations need a DSQL recipe (NOT NULL + default)")
def test_tracking_the_same(run_on, urls, tmp_path):
    expected = run_on("postgresql", lambda url: tracking(url, tmp_path / "pg"))
    assert expected["losses"] == [1 / 3, 0.5]
    urls["bare"] = bare_url(urls)
    assert run_on("bare", lambda url: tracking(url, tmp_path / "dsql")) == expected
