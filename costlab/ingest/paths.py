"""`costlab ingest PATH...`: every file the paths name (local files, folders, globs: files.expand;
s3:// prefixes: s3.py), each one through pipeline.ingest_file. One bad file never stops the good ones:
it is reported in the summary, not raised."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from costlab.errors import InputError, QueryError
from costlab.ingest import detect, pipeline, s3
from costlab.ingest.files import expand
from costlab.ingest.pipeline import ingest_file
from costlab.ingest.results import FileResult, IngestSummary
from costlab.store import Store


def ingest_paths(
    store: Store,
    paths: list[str],
    fmt: str | None = None,
    payloads: bool = True,
    on_file: Callable[[Path, int], None] | None = None,
    endpoint_url: str | None = None,
    sample_rate: object | None = None,
    on_progress: Callable[[Path, float], None] | None = None,
) -> IngestSummary:
    """Ingest every file under `paths` (local files, folders, globs, and s3://bucket/prefix URLs).
    Unreadable files are reported in the summary, not raised, so one bad file never stops the good
    ones. `on_file(path, size)` is called after each local file; `on_progress(path, fraction)` while
    one is read (DuckDB's progress, from another thread: pipeline.ingest_file). `endpoint_url`: an S3-compatible store.
    `sample_rate`: the files are a sample at this rate (each row stands for 1 / rate requests, unless
    it carries its own sample_weight)."""
    summary = IngestSummary()
    urls = [p for p in paths if s3.is_s3(p)]
    refused: list[tuple[Path, str]] = []  # symbolic links out of a folder or glob: not followed (files.expand)
    files = expand([p for p in paths if not s3.is_s3(p)], refused)
    summary.files.extend(FileResult(str(path), error=why) for path, why in refused)
    if sample_rate is not None:  # a bad --sample-rate is one usage error up front
        pipeline.weight_of_rate(sample_rate, "--sample-rate")
    if fmt:  # a bad --format is one usage error up front, not one error per file
        for path in files[:1]:
            detect.normalise_format(fmt, path, store.config)
    for path in files:
        try:
            moved = (lambda fraction, p=path: on_progress(p, fraction)) if on_progress else None
            result = ingest_file(store, path, fmt, payloads, sample_rate=sample_rate, on_progress=moved)
        except (InputError, QueryError) as ex:
            # About this file only; a ConfigError (a bad flag or mapping) is about every file and stops the run.
            result = FileResult(str(path), error=str(ex))
        summary.files.append(result)
        if on_file:
            on_file(path, path.stat().st_size)
    for url in urls:
        try:
            summary.files.extend(s3.ingest_url(store, url, fmt, payloads, endpoint_url, sample_rate=sample_rate))
        except InputError as ex:  # a missing bucket or a refused listing: about this URL only
            summary.files.append(FileResult(url, error=str(ex)))
    return summary
