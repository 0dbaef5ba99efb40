"""APScheduler 3's ``SQLAlchemyJobStore``: jobs persist, come due in order, and go."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from apscheduler.jobstores import sqlalchemy as jobstores
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import URL

from .conftest import column_types

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


def remind(who: str) -> str:
    return who


def schedule(url: URL) -> dict:
    store = jobstores.SQLAlchemyJobStore(url=url.render_as_string(hide_password=False))
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
    scheduler.start(paused=True)
    try:
        for hours, who in ((3, "cy"), (1, "ada"), (2, "bob")):
            scheduler.add_job(remind, "date", run_date=NOW + timedelta(hours=hours), id=who, args=[who])
        scheduler.add_job(remind, "interval", minutes=30, start_date=NOW, id="tick", args=["tick"])
        planned = [(job.id, job.next_run_time.isoformat()) for job in scheduler.get_jobs()]
        scheduler.reschedule_job("cy", trigger="date", run_date=NOW + timedelta(minutes=10))
        scheduler.remove_job("bob")
        due = [job.id for job in store.get_due_jobs(NOW + timedelta(hours=1))]
        return {
            "planned": planned,
            "after": [job.id for job in scheduler.get_jobs()],
            "due": due,
            "next": store.get_next_run_time().isoformat(),
            "types": column_types(url, "apscheduler_jobs"),
        }
    finally:
        scheduler.shutdown(wait=False)
        store.engine.dispose()


def test_jobs_come_due_in_the_same_order(run_on):
    expected = run_on("postgresql", schedule)
    assert expected["after"] == ["tick", "cy", "ada"]
    assert run_on("auroradsql", schedule) == expected
