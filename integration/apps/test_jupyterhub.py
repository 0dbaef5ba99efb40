"""JupyterHub's ORM: the hub's database of users, groups and servers.

``new_session_factory`` creates the tables and stamps them with the hub's
Alembic revision, which goes through Alembic's implementation lookup.
"""

from __future__ import annotations

from jupyterhub import orm
from sqlalchemy.engine import URL

from .conftest import narrower_than_their_keys, query


def hub(url: URL) -> dict:
    session_factory = orm.new_session_factory(url.render_as_string(hide_password=False))
    db = session_factory()
    try:
        for name in ("ada", "bob", "cy"):
            db.add(orm.User(name=name))
            db.commit()
        users = db.query(orm.User).order_by(orm.User.id).all()
        staff = orm.Group(name="staff")
        staff.users = users[:2]
        db.add(staff)
        server = orm.Server(ip="127.0.0.1", port=8888)
        db.add(server)
        db.add(orm.Spawner(user=users[0], name="", server=server))
        db.commit()
        db.delete(users[2])
        db.commit()
        return {
            "users": [u.name for u in db.query(orm.User).order_by(orm.User.id)],
            "ids": [u.id for u in db.query(orm.User).order_by(orm.User.id)],
            "staff": sorted(u.name for u in db.query(orm.Group).filter_by(name="staff").one().users),
            "running": [(s.user.name, s.server.port) for s in db.query(orm.Spawner)],
            "revision": query(url, "SELECT version_num FROM alembic_version"),
        }
    finally:
        db.close()
        db.get_bind().dispose()


def test_users_groups_and_servers_the_same(run_on):
    expected = run_on("postgresql", hub)
    assert expected["users"] == ["ada", "bob"] and expected["ids"] == [1, 2]
    assert run_on("auroradsql", hub) == expected


def test_foreign_keys_are_as_wide_as_the_keys_they_reference(run_on, pg_url):
    # e.g. user_group_map.user_id INTEGER referencing users.id BIGINT
    run_on("auroradsql", hub)
    assert narrower_than_their_keys(pg_url) == []
