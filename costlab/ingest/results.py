"""What an ingest run reports: one `FileResult` per file (or S3 object), and the run's `IngestSummary`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileResult:
    file: str
    format: str | None = None
    rows_read: int = 0
    rows_added: int = 0
    rows_present: int = 0
    rows_rejected: int = 0
    skipped: bool = False  # the same bytes were ingested before
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestSummary:
    files: list[FileResult] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        """Files that yielded no rows: unreadable, or every record rejected."""
        return [f for f in self.files if f.error or (not f.skipped and f.rows_read and f.rows_rejected == f.rows_read)]
