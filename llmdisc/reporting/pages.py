"""A report computed once and rendered twice: ``report.md`` and ``report.html`` from the same values.

A report's Python side builds its sections (heading, text, plot, table) once; one template per
output (``templates/NAME.md.j2``, ``templates/NAME.html.j2``) says how Markdown and HTML show a
section. The HTML pages extend ``page.html.j2`` (one self-contained file, plots embedded) and show
tables with the ``html_table`` macro of ``tables.html.j2``; Markdown shows them with the
``markdown_table`` filter (see :mod:`llmdisc.plumbing.templates`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmdisc.plumbing.atomic_files import atomic_write_text
from llmdisc.plumbing.templates import Table, render

__all__ = ["Section", "write_pages"]


@dataclass(frozen=True)
class Section:
    """One section of a report, as both outputs show it.

    Attributes:
        key: what it shows (a table's or a plot's name).
        heading: its heading.
        text: what it shows, in a sentence or a few; written once, shown by both outputs.
        plot: a PNG written beside the report (Markdown links ``plots/NAME``; HTML embeds it), or None.
        table: ``(headers, rows)``, every cell a string, or None.
    """

    key: str
    heading: str
    text: str
    plot: Path | None = None
    table: Table | None = None


def write_pages(folder: Path, template: str, **values: Any) -> Path:
    """Render ``templates/TEMPLATE.md.j2`` and ``templates/TEMPLATE.html.j2`` with the same values;
    write them (atomically) as ``folder/report.md`` and ``folder/report.html``.

    Returns:
        The path of ``report.md``.
    """
    for suffix in ("md", "html"):
        text = render("llmdisc.reporting", f"{template}.{suffix}.j2", **values)
        atomic_write_text(folder / f"report.{suffix}", text)
    return folder / "report.md"
