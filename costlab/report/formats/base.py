"""What a report format is: a name, the function that writes the report object as text, and the
--out extensions that choose it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# render(report, *, width, color) -> text; width and color matter to the terminal alone.
Renderer = Callable[..., str]


@dataclass(frozen=True)
class ReportFormat:
    name: str  # what --format takes
    render: Renderer
    suffixes: tuple[str, ...] = ()  # --out extensions that choose this format when --format is not given
    aliases: tuple[str, ...] = ()  # other names --format accepts
