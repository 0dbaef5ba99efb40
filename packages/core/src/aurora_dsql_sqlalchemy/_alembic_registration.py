"""Let Alembic find the ``auroradsql`` implementation without importing Alembic.

Alembic looks implementations up by dialect name in a registry filled when
their modules are imported.  Importing Alembic eagerly costs ~200 ms, so
:mod:`.alembic_impl` is imported only when Alembic is: right away if it is
already loaded, else right after ``alembic.ddl`` finishes loading.
"""

from __future__ import annotations

from typing import Any


def _register_alembic_impl() -> None:
    """Let Alembic find :mod:`aurora_dsql_sqlalchemy.alembic_impl` by itself: import it
    now if Alembic is loaded, else right after ``alembic.ddl`` has loaded."""
    import importlib.abc
    import importlib.machinery
    import sys

    if "alembic.ddl" in sys.modules:
        from . import alembic_impl  # noqa: F401

        return

    class _AfterAlembicDDL(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name != "alembic.ddl":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            loader = getattr(spec, "loader", None)
            if loader is None or not hasattr(loader, "exec_module"):
                return spec
            exec_module = loader.exec_module

            def exec_then_register(module: Any) -> None:
                exec_module(module)
                from . import alembic_impl  # noqa: F401

            loader.exec_module = exec_then_register  # type: ignore[method-assign]
            return spec

    sys.meta_path.insert(0, _AfterAlembicDDL())



