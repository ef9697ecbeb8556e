"""Text for people: data never becomes markup, a control sequence, a tag or a script.

A log is untrusted input, and its strings (model, feature, user and customer names, error messages, a
CSV's header, a file's first line) reach the terminal, Markdown and HTML. Every writer of text for a
person goes through this module, so no string from data can

* be read as rich markup (`[/red]` crashing a summary, `[mappings.NAME]` eaten as a tag) or an emoji
  code (`:x:`): `console()` is a rich Console that never parses markup or emoji codes, whatever a
  caller passes, and `styled()` is how costlab adds its own colour around data;
* drive the terminal (ANSI colours, cursor moves, OSC-8 hyperlinks, a BEL, C1 controls, bidi
  overrides that reorder a line): `visible()` shows every such character in its escaped form
  (`\\x1b`, `\\u202e`), and `console()` applies it to every string it is given and, as a last net,
  to every segment it writes, while rich's own styling still reaches a colour terminal;
* become HTML or a link in Markdown: `markdown_text()` (and `markdown_code()` for code spans);
* close a <script> element in an HTML page: `ScriptSafeJSON`/`script_json()` for JSON inside one.

Data formats (csv, json, jsonl, parquet) keep the data exactly as it is: they are for programs.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), the bidi embeddings,
# overrides, isolates and marks, and the Unicode line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_SHORT = {"\r": "\\r", "\x0b": "\\v", "\x0c": "\\f"}


def _escaped(match: re.Match) -> str:
    ch = match.group()
    return _SHORT.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def visible(text: Any) -> str:
    """`text` with every character that could drive a terminal shown in its escaped form.

    ESC becomes `\\x1b`, BEL `\\x07`, a bidi override `\\u202e`, carriage return `\\r`; tab and
    newline stay. Everything else, including markup-like brackets and non-ASCII letters, is kept.
    """
    text = str(text)
    return _UNSAFE.sub(_escaped, text) if _UNSAFE.search(text) else text


def styled(text: Any, style: str = ""):
    """A rich Text of `text`, shown literally (never markup), in costlab's own `style`."""
    from rich.text import Text

    return Text(visible(text), style=style)


def console(**options: Any):
    """A rich Console for people: no markup, no emoji codes, no highlighting, every string visible().

    Takes rich.console.Console's options (file, stderr, width, color_system, force_terminal, ...).
    Passing markup=True or emoji=True to it, or to its print(), changes nothing: data is never markup.
    """
    options.update(markup=False, emoji=False, highlight=False)
    return _console_class()(**options)


@cache
def _console_class():
    from rich.console import Console
    from rich.segment import Segment

    class PlainConsole(Console):
        """Strings are literal text (render_str), and no segment it writes carries a control
        character from data (render): only rich's own styling and cursor control reach the file."""

        def render_str(self, text: str, **kwargs: Any):
            kwargs.update(markup=False, emoji=False)
            return super().render_str(visible(text), **kwargs)

        def render(self, renderable: Any, options: Any = None):
            for segment in super().render(renderable, options):
                if segment.control or not _UNSAFE.search(segment.text):
                    yield segment
                else:
                    yield Segment(visible(segment.text), segment.style)

    return PlainConsole


# -- counts ------------------------------------------------------------------------------------
def plural(n: int, word: str, many: str | None = None) -> str:
    """A count and its noun, agreeing: plural(1, "file") is "1 file", plural(48213, "row") "48,213 rows";
    `many` for an irregular plural (plural(2, "query", "queries"))."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


# -- Markdown ----------------------------------------------------------------------------------
_MD_SPECIAL = ("\\", "|", "*", "_", "`", "[", "]", "<", ">")


def markdown_text(text: Any) -> str:
    """Text safe inside a Markdown table cell, heading or paragraph: on one line, controls visible(),
    and pipes, HTML, links and emphasis characters backslash-escaped (`<script>` is `\\<script\\>`)."""
    text = visible(" ".join(str(text).split()))
    for ch in _MD_SPECIAL:
        text = text.replace(ch, "\\" + ch)
    return text


def markdown_code(text: Any) -> str:
    """A Markdown code span of `text` that no backtick in the text can close (controls visible())."""
    text = visible(" ".join(str(text).split()))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# -- Slack mrkdwn --------------------------------------------------------------------------------
def slack_text(text: Any, limit: int = 1000) -> str:
    """Text safe inside Slack mrkdwn (an alert's blocks): on one line, controls visible(), and `&`,
    `<`, `>` escaped as Slack asks, so no value from a log can open a link, mention `<!channel>` or a
    user; cut to `limit` characters (Slack refuses a section over 3,000)."""
    text = visible(" ".join(str(text).split()))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- JSON inside HTML --------------------------------------------------------------------------
class ScriptSafeJSON(json.JSONEncoder):
    """JSON that can sit inside an HTML <script>: '<', '>' and '&' (and U+2028/9, line ends in old
    JavaScript) as \\u escapes, so no value closes the element or opens a comment. Same value."""

    def encode(self, o: Any) -> str:
        return (super().encode(o).replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
                .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def script_json(value: Any) -> str:
    """`value` as JSON for an HTML <script> (see ScriptSafeJSON); non-ASCII kept as it is."""
    return json.dumps(value, ensure_ascii=False, cls=ScriptSafeJSON)
