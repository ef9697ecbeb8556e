"""SQL files: find them (source checkout or installed wheel), read their headers, bind parameters.

Every query file starts with a header of `--` lines:

    -- cost_by_feature: spend and volume per feature over a window.
    -- params:
    --   since TIMESTAMPTZ = 1970-01-01   start of the window, inclusive
    --   until TIMESTAMPTZ = 9999-12-31   end of the window, exclusive
    -- returns:
    --   feature VARCHAR                  the feature ('(none)' when the logs had none)
    --   cost_usd DECIMAL(18,6)           priced spend

Parameters are DuckDB named parameters (`$since`); values are always bound, never formatted in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from costlab.errors import ConfigError, did_you_mean

_PARAM = re.compile(r"^--\s+(\w+)\s+([A-Z][A-Z0-9_(), ]*?)\s*(?:=\s*(\S+))?(?:\s{2,}(.*))?$")
_RETURN = re.compile(r"^--\s+(\w+)\s+([A-Z][A-Z0-9_(), \[\]]*?)(?:\s{2,}(.*))?$")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    doc: str = ""


@dataclass(frozen=True)
class QueryFile:
    name: str
    path: Path
    text: str
    purpose: str
    params: tuple[Param, ...] = field(default_factory=tuple)
    returns: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def bind(self, given: dict[str, object]) -> dict[str, object]:
        """Defaults filled in, unknown names refused, only the parameters the text uses."""
        known = {p.name: p for p in self.params}
        for key in given:
            if key not in known:
                raise ConfigError(
                    f"{self.name}.sql has no parameter {key!r}.{did_you_mean(key, known)} "
                    f"It takes: {', '.join(known) or 'none'}."
                )
        values: dict[str, object] = {}
        for p in self.params:
            if f"${p.name}" not in self.text:
                continue
            if p.name in given:
                values[p.name] = given[p.name]
            elif p.default is not None:
                values[p.name] = None if p.default.upper() == "NULL" else p.default
            else:
                raise ConfigError(f"{self.name}.sql needs parameter {p.name!r} ({p.type}): pass it with --param {p.name}=VALUE")
        return values


def queries_dir() -> Path:
    """The installed copy inside the package, else the top-level folder of a source checkout."""
    packaged = resources.files("costlab") / "queries"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "queries"


def parse(path: Path, name: str | None = None) -> QueryFile:
    text = path.read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    purpose = header[0].lstrip("- ").split(":", 1)[-1].strip() if header else ""
    params: list[Param] = []
    returns: list[tuple[str, str]] = []
    section = None
    for line in header[1:]:
        body = line[2:].strip()
        if body in ("params:", "returns:"):
            section = body[:-1]
            continue
        if body.startswith(("params: none", "params:none")):
            section = None
            continue
        if section == "params" and (m := _PARAM.match(line)):
            params.append(Param(m.group(1), m.group(2).strip(), m.group(3), (m.group(4) or "").strip()))
        elif section == "returns" and (m := _RETURN.match(line)):
            returns.append((m.group(1), m.group(2).strip()))
    return QueryFile(name or path.stem, path, text, purpose, tuple(params), tuple(returns))


@cache
def load(name: str) -> QueryFile:
    """A query by name, e.g. 'cost_by_feature' or 'views/costed_requests'."""
    path = queries_dir() / f"{name}.sql"
    if not path.exists():
        raise ConfigError(f"no query named {name!r}.{did_you_mean(name, [q.name for q in starter_queries()])}")
    return parse(path, name)


def starter_queries() -> list[QueryFile]:
    """The documented queries for engineers: every .sql directly in queries/ (not views/ or internal/)."""
    return [parse(p) for p in sorted(queries_dir().glob("*.sql"))]
