"""Where a lake lives: a local folder or an s3:// prefix, and the few ways an export writes to it.

Every write an export makes is one of: put a finished file at its path (a rename on a local disk, one
PUT on S3: readers see the old file or the new one, never a part), delete a file, or write a small
text file whole (the manifest and the in-progress marker). Files are produced in a staging folder
first (inside the lake's `_costlab/` on a local disk, so the rename stays on one file system; a
local temporary folder for S3).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from costlab.errors import ConfigError, InputError, StoreLockedError
from costlab.keys import check_env_keys

STATE = "_costlab"  # the lake's own folder: manifest, marker, lock, staging (readers skip names starting with _)


def is_s3(dest: str) -> bool:
    return dest.lower().startswith("s3://")


def open_target(dest: str | os.PathLike, endpoint_url: str | None = None) -> "LocalTarget | S3Target":
    text = os.fspath(dest)
    return S3Target(text, endpoint_url) if is_s3(text) else LocalTarget(Path(text))


class LocalTarget:
    """A lake in a local folder (created if missing)."""

    def __init__(self, root: Path):
        self.root = root.expanduser().absolute()
        self.url = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"{self.root} is a file, not a folder: give export a folder (or an s3:// prefix)")

    def path(self, rel: str) -> Path:
        return self.root / rel

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One export at a time per lake (an advisory lock on _costlab/lock, released at exit or kill)."""
        import fcntl  # POSIX only; the lake's other code runs anywhere

        state = self.root / STATE
        state.mkdir(parents=True, exist_ok=True)
        with open(state / "lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreLockedError(f"another `costlab export` is writing the lake {self.root} now: "
                                       "wait for it to finish") from None
            # Staging folders left by an export that was killed: nothing reads them.
            for stale in state.glob("staging-*"):
                shutil.rmtree(stale, ignore_errors=True)
            yield

    @contextmanager
    def staging(self) -> Iterator[Path]:
        folder = self.root / STATE / f"staging-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def swap_day(self, local: Path, day: str, run_id: str) -> None:
        """Replace the folder requests/day=`day` (several files: another writer's) by one holding only
        `local` as part-0.parquet: the new folder is made in _costlab/, the old one renamed away to
        _costlab/replaced-<run_id>/, the new one renamed in (two renames: between them, and only then,
        the day is absent; never doubled). `recover` finishes or undoes a swap a kill interrupted."""
        fresh = self.root / STATE / f"new-{run_id}" / f"day={day}"
        fresh.mkdir(parents=True, exist_ok=True)
        with open(local, "rb") as f:
            os.fsync(f.fileno())
        os.replace(local, fresh / "part-0.parquet")
        _fsync_dir(fresh)
        away = self.root / STATE / f"replaced-{run_id}"
        away.mkdir(parents=True, exist_ok=True)
        live = self.root / "requests" / f"day={day}"
        os.rename(live, away / live.name)
        os.rename(fresh, live)
        _fsync_dir(live.parent)
        shutil.rmtree(away, ignore_errors=True)
        shutil.rmtree(fresh.parent, ignore_errors=True)

    def recover(self) -> bool:
        """After a kill in the middle of swap_day: a day folder renamed away whose new folder never
        arrived is put back (the next run prices it again); one that was replaced is deleted. True if
        anything was left over."""
        found = False
        for away in sorted((self.root / STATE).glob("replaced-*")):
            for old in sorted(away.glob("day=*")):
                found = True
                live = self.root / "requests" / old.name
                if live.exists():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    os.rename(old, live)
            shutil.rmtree(away, ignore_errors=True)
        for fresh in (self.root / STATE).glob("new-*"):
            found = True
            shutil.rmtree(fresh, ignore_errors=True)
        return found

    def read_text(self, rel: str) -> str | None:
        try:
            return self.path(rel).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write_text(self, rel: str, text: str) -> None:
        """The file whole or not at all: written beside it, flushed to disk, renamed over it."""
        target = self.path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def put_file(self, local: Path, rel: str) -> None:
        """Move a finished file (in this lake's staging folder) to `rel`, replacing what is there in one rename."""
        target = self.path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(local, "rb") as f:
            os.fsync(f.fileno())
        os.replace(local, target)
        _fsync_dir(target.parent)

    def delete(self, rel: str) -> None:
        target = self.path(rel)
        target.unlink(missing_ok=True)
        try:
            target.parent.rmdir()  # the day's folder, when it is empty
        except OSError:
            pass

    def files(self, prefix: str) -> set[str]:
        """Every file under the folder `prefix` (relative paths, '/'-separated)."""
        base = self.path(prefix)
        if not base.is_dir():
            return set()
        return {p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file()}


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Target:
    """A lake under an s3:// prefix (AWS, or an S3-compatible store through --endpoint-url /
    AWS_ENDPOINT_URL_S3). Credentials come the AWS way, as for `costlab ingest s3://...`."""

    def __init__(self, url: str, endpoint_url: str | None = None):
        m = re.match(r"(?i)^s3://([^/]+)/?(.*)$", url)
        if not m or not m.group(1):
            raise ConfigError(f"{url}: expected s3://bucket/prefix")
        self.bucket = m.group(1)
        self.prefix = m.group(2).strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.s3 = _client(endpoint_url)

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    @contextmanager
    def lock(self) -> Iterator[None]:
        # S3 has no lock an export could take: one export at a time per prefix is the user's to keep
        # (docs/lake.md). A second writer's days are each whole; the manifest is the last one's.
        yield

    @contextmanager
    def staging(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="costlab-lake-") as tmp:
            yield Path(tmp)

    def read_text(self, rel: str) -> str | None:
        try:
            body = self._call("get_object", Bucket=self.bucket, Key=self.key(rel))
        except _Missing:
            return None
        return body["Body"].read().decode("utf-8")

    def write_text(self, rel: str, text: str) -> None:
        # One PUT: S3 shows the old object or the new one, never a part of it.
        self._call("put_object", Bucket=self.bucket, Key=self.key(rel), Body=text.encode("utf-8"),
                   ContentType="application/json")

    def put_file(self, local: Path, rel: str) -> None:
        # upload_file uses a multipart upload for a large file: the object appears (or replaces the
        # old one) only when the upload completes, so readers again see the old day or the new one.
        self._call("upload_file", str(local), self.bucket, self.key(rel))

    def delete(self, rel: str) -> None:
        self._call("delete_object", Bucket=self.bucket, Key=self.key(rel))

    def files(self, prefix: str) -> set[str]:
        start = self.key(prefix).rstrip("/") + "/"
        found: set[str] = set()
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
                for obj in page.get("Contents", []):
                    found.add(obj["Key"][len(self.key("")):] if self.prefix else obj["Key"])
        except Exception as ex:  # botocore's errors, loaded with boto3
            raise _error(self.url, ex) from None
        return found

    def _call(self, method: str, *args, **kwargs):
        from botocore.exceptions import ClientError  # loaded with boto3 (see _client)

        try:
            return getattr(self.s3, method)(*args, **kwargs)
        except ClientError as ex:
            if ex.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise _Missing() from None
            raise _error(self.url, ex) from None
        except Exception as ex:  # BotoCoreError, S3UploadFailedError, an unreachable endpoint
            raise _error(self.url, ex) from None


class _Missing(Exception):
    pass


def _error(url: str, ex: Exception) -> InputError:
    response = getattr(ex, "response", None) or {}
    err = response.get("Error", {})
    if err:
        return InputError(f"{url}: {err.get('Code', 'error')}: {err.get('Message', ex)}")
    return InputError(f"{url}: {ex}")


def _client(endpoint_url: str | None):
    # boto3 is imported here, not at the top: it is heavy, and only s3:// lakes need it. The same
    # client as `costlab ingest s3://` builds (costlab/ingest/s3.py; a sibling package, not imported).
    try:
        import boto3
        from botocore.config import Config as BotoConfig
    except ImportError as ex:  # pragma: no cover - boto3 is a dependency
        raise ConfigError("writing to s3:// needs boto3 (pip install boto3)") from ex
    check_env_keys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return boto3.session.Session().client("s3", endpoint_url=endpoint,
                                          config=BotoConfig(retries={"max_attempts": 5, "mode": "standard"}))
