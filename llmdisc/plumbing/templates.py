"""Jinja2 templates shipped in the package: the one environment every card and report renders through.

Each package that writes text for people keeps its templates in a ``templates/`` folder beside
its modules (``llmdisc/hub/templates``, ``llmdisc/reporting/templates``), one template per
output. The Python side computes and formats the values; a template only lays them out. The
rules, the same for every template:

- A name the template uses and the caller did not pass is an error (``StrictUndefined``), not
  an empty string in a published card.
- ``*.html.j2`` templates escape every value; Markdown (``*.md.j2``) is written as given. HTML is
  escaped as :func:`html.escape` escapes it (``'`` as ``&#x27;``, ``"`` as ``&quot;``), not as
  markupsafe does (``&#39;``, ``&#34;``): the reports kept their bytes when they moved to templates.
- A line holding only a block tag (``{% if %}``, ``{% for %}``) leaves nothing in the output
  (``trim_blocks``, ``lstrip_blocks``); a file's last newline is kept.

Two filters serve every template: ``markdown_table`` (a ``(headers, rows)`` table) and
``data_uri`` (a file embedded in a page, as the reports embed their plots).
"""

from __future__ import annotations

import base64
import functools
import html
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jinja2 is imported on first use: `llmdisc --help` never needs it
    import jinja2

__all__ = ["Table", "data_uri", "environment", "markdown_table", "render"]

Table = tuple[list[str], list[list[str]]]  # (headers, rows of cells), every cell already formatted


def markdown_table(table: Table) -> str:
    """A Markdown table, without a final newline; a ``|`` inside a cell becomes ``/`` (headers are kept)."""
    headers, rows = table
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def data_uri(path: str | Path) -> str:
    """The file at ``path`` as a ``data:`` URI (its type guessed from the suffix), for a page that is one file."""
    kind = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    return f"data:{kind};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _escape_as_html_escape(eval_ctx: Any, value: Any) -> Any:
    """What an HTML template prints: ``html.escape(str(value))``, marked safe so that jinja2 leaves it be.

    Markup (a macro's output, a ``|safe`` value) passes through; Markdown templates get the value as it is.
    """
    from markupsafe import Markup

    if not eval_ctx.autoescape or hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value)))


@functools.cache
def environment(package: str) -> jinja2.Environment:
    """The environment that loads ``package``'s ``templates/`` folder (one per package, made once).

    Args:
        package: a package holding a ``templates`` folder, ``llmdisc.hub`` or ``llmdisc.reporting``.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        finalize=jinja2.pass_eval_context(_escape_as_html_escape),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(markdown_table=markdown_table, data_uri=data_uri)
    return env


def render(package: str, name: str, /, **values: Any) -> str:
    """Render template ``name`` of ``package`` (see :func:`environment`) with ``values``.

    Raises:
        jinja2.UndefinedError: the template uses a name not in ``values``.
    """
    return environment(package).get_template(name).render(**values)
