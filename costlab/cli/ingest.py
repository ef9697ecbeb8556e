"""`costlab ingest`: read log files (or s3:// prefixes) into the store, a line per file on stderr.

The work lives in costlab.ingest; this module parses options, calls it and reports.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from costlab.cli.context import open_store
from costlab.cli.errors import handle_errors
from costlab.cli.options import ConfigOption, DbOption
from costlab.display import plural
from costlab.errors import ExitCode
from costlab.keys import redact


def register(app: typer.Typer) -> None:
    """Add `ingest` to the app."""
    app.command("ingest")(ingest)


def _formats_help() -> str:
    # --format's help, from the format registry. Evaluated when typer builds the command (in main(),
    # after the process is set up: the registry imports DuckDB), not when this module is imported:
    # this module's annotations are strings (from __future__ import annotations).
    from costlab.ingest import formats

    return formats.flag_help()


@handle_errors
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs; .gz is read directly.")],
    fmt: Annotated[Optional[str], typer.Option("--format", help=_formats_help())] = None,
    no_payloads: Annotated[bool, typer.Option("--no-payloads", help="Do not keep request and response bodies.")] = False,
    sample_rate: Annotated[Optional[str], typer.Option("--sample-rate", help="The files are a sample at this rate (0.001 or 1/1000: one request in 1,000 logged): each row stands for 1 / rate requests in every sum, unless it carries its own sample_weight. Default: [ingest.<source>] or [ingest] sample_rate in costlab.toml, else 1.", show_default=False)] = None,
    endpoint_url: Annotated[Optional[str], typer.Option("--endpoint-url", help="S3-compatible endpoint for s3:// paths. [env: AWS_ENDPOINT_URL_S3]", show_default=False)] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Read log files (or s3:// prefixes) into the store; re-running adds nothing twice.

    \b
    Examples:
      costlab ingest logs/2026-11-*.jsonl.gz exports/litellm.csv
      costlab ingest s3://my-bucket/AWSLogs/123456789012/BedrockModelInvocationLogs/
      costlab ingest --sample-rate 0.001 sampled/2026-11-*.jsonl
    """
    from costlab.display import styled
    from costlab.ingest import expand, ingest_paths
    from costlab.ingest.s3 import is_s3
    from costlab.progress import bytes_bar, stderr

    files = expand([p for p in paths if not is_s3(p)])
    sizes = {f: f.stat().st_size for f in files}
    read = [0]  # the bytes of the files done
    with open_store(db, config) as store, bytes_bar(sum(sizes.values()), "ingest") as bar:

        def file_done(_path, size: int) -> None:
            read[0] += size
            bar.to(read[0])

        def reading(path, fraction: float) -> None:  # DuckDB's progress within the file: the bar moves while it is read
            bar.to(read[0] + fraction * sizes.get(path, 0))

        # The paths as given: ingest_paths expands them the same way, and reports what it leaves out.
        summary = ingest_paths(store, paths, fmt=fmt, payloads=not no_payloads, on_file=file_done,
                               on_progress=reading if bar.shown else None, endpoint_url=endpoint_url, sample_rate=sample_rate)
    for f in summary.files:
        if f.error:
            stderr.print(styled("✗", "red"), redact(f.error))
        elif f.skipped:
            stderr.print(f"· {f.file}: already ingested ({plural(f.rows_present, 'row')} present)", highlight=False, markup=False)
        else:
            line = (f"✓ {f.file} [{f.format}]: {f.rows_read:,} read, {f.rows_added:,} added, "
                    f"{f.rows_present:,} already present, {f.rows_rejected:,} rejected")
            stderr.print(line, highlight=False, markup=False)
            for note in f.notes:
                stderr.print(f"  note: {note}", highlight=False, markup=False)
    total = (f"{plural(len(summary.files), 'file')}: {plural(summary.total('rows_added'), 'row')} added, "
             f"{summary.total('rows_present'):,} already present, {summary.total('rows_rejected'):,} rejected")
    stderr.print(total + (" (see `costlab sql \"select * from rejects\"`)" if summary.total("rows_rejected") else ""),
                 highlight=False, markup=False)
    if summary.failed:
        raise typer.Exit(int(ExitCode.ERROR))
