"""Sphinx configuration: ``hatch run docs:build`` writes the site to docs/_build/html.

The guide pages are the README's sections (one page per ``##`` heading),
generated here at each build so the README stays the one source; the API
reference is the packages' module docstrings, through autodoc.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"

project = "aurora-dsql-sqlalchemy"
author = "the aurora-dsql-sqlalchemy developers"
copyright = "2026, " + author
release = importlib.import_module("aurora_dsql_sqlalchemy").__version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = f"{project} {release}"
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# the dialect classes inherit hundreds of SQLAlchemy methods: document only our own
autodoc_inherit_docstrings = False
# A reference to a name no page documents is an error (-n -W), except names
# of the libraries the dialect builds on: their documentation is not part of
# this site.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(sqlalchemy|alembic|psycopg|psycopg2|pglast|pgserver|botocore|boto3|pytest|_pytest)(\..*)?"),
    (r"py:.*", r"(typing|collections|contextlib|dataclasses|datetime|logging|threading|asyncio|concurrent|argparse|pathlib|types|enum|re)(\..*)?"),
    (r"py:.*", r"(Any|Callable|Iterator|Iterable|Sequence|Mapping|TypeVar|ParamSpec|Awaitable|Coroutine|Literal|Final|Self|T|P|R|_T|_R|_P)"),
    (r"py:.*", r"(Engine|Connection|Session|AsyncEngine|AsyncConnection|AsyncSession|URL|MetaData|Table|Dialect|sessionmaker|async_sessionmaker|TypeEngine|ClauseElement|Executable|SQLCompiler|CacheKey|SchemaTranslateMapType|Linting)"),
    # type variables and aliases in signatures
    (r"py:class", r"aurora_dsql_sqlalchemy\..*\.(T|R|P|Kind)"),
]

# -- the README's sections as guide pages ---------------------------------------

_SKIPPED_SECTIONS = {"Documentation", "Development", "Benchmarks"}  # about this repository


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def write_guide_pages() -> tuple[str, list[str]]:
    """Split the README at its ``##`` headings into pages under docs/guide/;
    returns the README's introduction and the page names, in order."""
    text = README.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    intro = parts[0].split("\n", 1)[1]  # without the README's own title
    guide = HERE / "guide"
    guide.mkdir(exist_ok=True)
    for stale in guide.glob("*.md"):
        stale.unlink()
    pages = []
    for number, (title, body) in enumerate(zip(parts[1::2], parts[2::2], strict=True), start=1):
        if title.strip() in _SKIPPED_SECTIONS:
            continue
        name = f"{number:02d}-{_slug(title)}"
        # one level up: the section is the page's title, its ### its sections
        body = re.sub(r"^#(#+ )", r"\1", body, flags=re.MULTILINE)
        (guide / f"{name}.md").write_text(f"# {title.strip()}\n{body}", encoding="utf-8")
        pages.append(f"guide/{name}")
    return intro, pages


# -- the API reference: one page per public module --------------------------------

PACKAGES = ["aurora_dsql_sqlalchemy", "aurora_dsql_sqlalchemy_psycopg", "aurora_dsql_sqlalchemy_psycopg2"]
# the compliance-suite hooks SQLAlchemy's test runner loads: not a user API
_NOT_DOCUMENTED = {"aurora_dsql_sqlalchemy.testing.requirements"}


def public_modules() -> list[str]:
    found = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        found.append(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            leaf = info.name.rsplit(".", 1)[1]
            if leaf.startswith("_") or info.name in _NOT_DOCUMENTED:
                continue
            found.append(info.name)
    return found


def write_api_pages() -> list[str]:
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    for stale in api.glob("*.rst"):
        stale.unlink()
    pages = []
    for name in public_modules():
        title = f"``{name}``"
        (api / f"{name}.rst").write_text(
            f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n   :members:\n",
            encoding="utf-8",
        )
        pages.append(f"api/{name}")
    return pages


def write_index() -> None:
    intro, guides = write_guide_pages()
    apis = write_api_pages()
    guide_toc = "\n".join(guides)
    api_toc = "\n".join(apis)
    (HERE / "index.md").write_text(
        f"# {project}\n{intro}\n"
        f"```{{toctree}}\n:caption: Guide\n:maxdepth: 2\n\n{guide_toc}\n```\n\n"
        f"```{{toctree}}\n:caption: API reference\n:maxdepth: 1\n\n{api_toc}\n```\n",
        encoding="utf-8",
    )


write_index()


# -- SQLAlchemy's ``.. dialect::`` directive (used by dialect module docstrings) --


class DialectDirective(Directive):
    """Renders SQLAlchemy's ``.. dialect:: name`` header as one line."""

    required_arguments = 1
    option_spec = {"name": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        label = self.options.get("name", self.arguments[0])
        line = nodes.paragraph()
        line += nodes.strong(text=label)
        line += nodes.Text(" — dialect name ")
        line += nodes.literal(text=self.arguments[0])
        return [line]


def setup(app: object) -> None:
    app.add_directive("dialect", DialectDirective)  # type: ignore[attr-defined]
