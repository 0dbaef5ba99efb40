"""Sphinx configuration: ``hatch run docs:build`` writes the site to docs/_build/html.

The guide pages are the README's sections (one page per ``##`` heading),
generated here at each build so the README stays the one source; the API
reference is the packages' module docstrings, through autodoc.
"""

from __future__ import annotations

import builtins
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
    (r"py:.*", r"(MappingProxyType|typing|collections|contextlib|dataclasses|datetime|logging|threading|asyncio|concurrent|argparse|pathlib|types|enum|re)(\..*)?"),
    (r"py:.*", r"(Any|Callable|Iterator|Iterable|Sequence|Mapping|TypeVar|ParamSpec|Awaitable|Coroutine|Literal|Final|Self|T|P|R|_T|_R|_P)"),
    (r"py:.*", r"(Engine|Connection|Session|AsyncEngine|AsyncConnection|AsyncSession|URL|MetaData|Table|Dialect|sessionmaker|async_sessionmaker|TypeEngine|ClauseElement|Executable|SQLCompiler|CacheKey|SchemaTranslateMapType|Linting|Column|inspect)"),
    # type variables and aliases in signatures
    (r"py:class", r"aurora_dsql_sqlalchemy\..*\.(T|R|P|Kind)"),
    # type aliases in signatures (documented where they are defined)
    (r"py:class", r"(LocalModeName|Kind|Job|Pool|RuleId|RetryEvent|RetryCallback)"),
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
            # members defined here only: a package's re-exports are documented
            # once, in the module that defines them
            f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n   :members:\n"
            "   :ignore-module-all:\n",
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


def unlink_builtins(app: object, doctree: nodes.document) -> None:
    """``str``, ``bytes``, ``int`` in signatures are builtins: plain text, not a
    fuzzy match for some attribute that happens to be called ``bytes``."""
    from sphinx import addnodes

    for node in list(doctree.findall(addnodes.pending_xref)):
        if node.get("refdomain") == "py" and node.get("reftarget") in _BUILTINS:
            node.replace_self(node.children or [nodes.Text(node["reftarget"])])


_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))


def resolve_short_name(app: object, env: object, node: nodes.Element, contnode: nodes.Node) -> nodes.Node | None:
    """A docstring may name a sibling by its short name (``:func:`chunked_write```
    from another module of the same package): resolve it when exactly one
    documented object of this project has that name; otherwise the warning stands."""
    target = str(node.get("reftarget", ""))
    if node.get("refdomain") != "py" or not target.replace(".", "").isidentifier():
        return None
    # ``package.name`` for a name the package re-exports: look in its modules
    prefix, _, short = target.rpartition(".")
    prefixes = (f"{prefix}.",) if prefix else tuple(PACKAGES)
    domain = env.get_domain("py")  # type: ignore[attr-defined]
    matches = [
        (name, entry)
        for name, entry in domain.objects.items()
        if name.rsplit(".", 1)[-1] == short and name.startswith(prefixes)
    ]
    if len(matches) != 1:
        return None
    name, entry = matches[0]
    from sphinx.util.nodes import make_refnode

    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name)  # type: ignore[attr-defined]


def setup(app: object) -> None:
    app.add_directive("dialect", DialectDirective)  # type: ignore[attr-defined]
    app.connect("missing-reference", resolve_short_name)  # type: ignore[attr-defined]
    app.connect("doctree-read", unlink_builtins)  # type: ignore[attr-defined]
