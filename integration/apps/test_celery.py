"""Celery's database result backend (``db+<url>``), as a worker and a client use it."""

from __future__ import annotations

import uuid

import celery
from sqlalchemy.engine import URL

from .conftest import query


def backend(url: URL):
    app = celery.Celery(backend="db+" + url.render_as_string(hide_password=False), broker="memory://")
    # a connection per operation (NullPool), as Celery recommends for workers
    app.conf.database_short_lived_sessions = True
    return app, app.backend


def results(url: URL) -> dict:
    app, store = backend(url)
    task_ids = [str(uuid.uuid4()) for _ in range(4)]
    for n, task_id in enumerate(task_ids):
        store.mark_as_started(task_id)
        store.store_result(task_id, {"n": n}, "SUCCESS")
    store.mark_as_failure(failed := str(uuid.uuid4()), ValueError("boom"))
    group = app.GroupResult(str(uuid.uuid4()), [app.AsyncResult(t) for t in task_ids])
    store.save_group(group.id, group)
    store.forget(task_ids[0])
    return {
        "results": [store.get_task_meta(t)["result"] for t in task_ids],
        "states": [store.get_task_meta(t)["status"] for t in task_ids],
        "failure": repr(store.get_task_meta(failed)["result"]),
        "group": [r.id for r in store.restore_group(group.id).results],
    }


def test_results_and_groups_read_back_the_same(run_on, urls):
    observed = run_on("auroradsql", results)
    expected = run_on("postgresql", results)
    # the group's members are the task ids, which differ per run
    assert len(observed.pop("group")) == len(expected.pop("group")) == 4
    assert observed == expected
    assert expected["results"] == [None, {"n": 1}, {"n": 2}, {"n": 3}]  # the forgotten one is gone


def stored_ids(url: URL) -> list[int]:
    _, store = backend(url)
    for n in range(3):
        store.store_result(str(uuid.uuid4()), n, "SUCCESS")
    return [row[0] for row in query(url, "SELECT id FROM celery_taskmeta ORDER BY date_done, id")]


def test_a_result_per_connection_takes_one_id_not_a_cache_block(run_on):
    # With a connection per operation, each result took a block of 65,536
    # ids: the INTEGER id column overflows after ~32,000 results.
    expected = run_on("postgresql", stored_ids)
    assert expected == [1, 2, 3]
    assert run_on("auroradsql", stored_ids) == expected


def test_sequence_fed_ids_fit_their_columns(run_on, pg_url):
    # DSQL's sequences are AS BIGINT: the INTEGER columns they feed overflow
    # once the sequence passes 2**31 - 1 (soon, with CACHE 65536 per connection)
    run_on("auroradsql", results)
    widths = query(
        pg_url,
        "SELECT table_name, data_type FROM information_schema.columns"
        " WHERE table_name IN ('celery_taskmeta', 'celery_tasksetmeta') AND column_name = 'id'"
        " ORDER BY table_name",
    )
    assert widths == [("celery_taskmeta", "bigint"), ("celery_tasksetmeta", "bigint")]
