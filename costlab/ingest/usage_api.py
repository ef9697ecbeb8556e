"""`costlab pull-usage`: the Anthropic Admin API's usage and cost reports over HTTP, every page
fetched (following `next_page`), optionally saved, and loaded like a report file (formats/admin.py)."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from costlab.errors import CostlabError
from costlab.ingest.formats.admin import load
from costlab.ingest.results import FileResult
from costlab.keys import check_key

if TYPE_CHECKING:
    from costlab.store import Store


def load_pages(store: Store, pages: list[dict], origin: str) -> FileResult:
    """Pages fetched from the API (pull-usage): written as JSON lines, then loaded like a file."""
    with tempfile.TemporaryDirectory(prefix="costlab-usage-") as tmp:
        path = Path(tmp) / "pages.jsonl"
        text = "".join(json.dumps(p, separators=(",", ":")) + "\n" for p in pages)
        path.write_text(text, encoding="utf-8")
        return load(store, path, len(text), hashlib.sha256(text.encode()).hexdigest(), origin)


USAGE_PATH = "/v1/organizations/usage_report/messages"
COST_PATH = "/v1/organizations/cost_report"
API_VERSION = "2023-06-01"


def fetch_pages(base_url: str, key: str, path: str, params: list[tuple[str, str]], timeout: float = 30.0,
                max_pages: int = 1000, retries: int = 3) -> list[dict]:
    """Every page of one report, following `next_page` until `has_more` is false. Retries 429 and 5xx
    a few times (honouring a short `retry-after`); anything else is a clear CostlabError."""
    key = check_key(key, "the Admin API key (ANTHROPIC_ADMIN_KEY)")  # before it becomes a header
    pages: list[dict] = []
    page: str | None = None
    for _ in range(max_pages):
        query = params + ([("page", page)] if page else [])
        url = base_url.rstrip("/") + path + "?" + urllib.parse.urlencode(query)
        req = urllib.request.Request(url, headers={"x-api-key": key, "anthropic-version": API_VERSION,
                                                   "accept": "application/json", "user-agent": "costlab"})
        for attempt in range(retries + 1):
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    body = json.loads(resp.read().decode("utf-8"))
                break
            except urllib.error.HTTPError as ex:
                text = ex.read().decode("utf-8", errors="replace")
                if (ex.code == 429 or ex.code >= 500) and attempt < retries:
                    wait = ex.headers.get("retry-after") if ex.headers else None
                    time.sleep(min(float(wait) if wait and wait.replace(".", "", 1).isdigit() else 0.5 * 2 ** attempt, 10))
                    continue
                try:
                    message = json.loads(text)["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = text[:200]
                hint = " (is ANTHROPIC_ADMIN_KEY an Admin key, sk-ant-admin...?)" if ex.code in (401, 403) else ""
                raise CostlabError(f"{path}: HTTP {ex.code}: {message}{hint}") from None
            except (urllib.error.URLError, TimeoutError, OSError) as ex:
                if attempt < retries:
                    time.sleep(0.5 * 2 ** attempt)
                    continue
                raise CostlabError(f"{base_url}{path}: cannot connect: {getattr(ex, 'reason', ex)}") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as ex:  # not any ValueError: urllib's quote headers
                raise CostlabError(f"{path}: the response is not JSON: {ex}") from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise CostlabError(f"{path}: unexpected response (no `data` list)")
        pages.append(body)
        page = body.get("next_page")
        if not body.get("has_more") or not page:
            return pages
    raise CostlabError(f"{path}: more than {max_pages} pages; narrow --since/--until")


def pull(store: Store, key: str, since: str, until: str, base_url: str = "https://api.anthropic.com",
         save_dir: Path | None = None):
    """Fetch the usage report (daily, by model, service tier and context window) and the cost report
    (daily, by description: model, token type, tier) for [since, until) and load both."""
    window = [("starting_at", f"{since}T00:00:00Z"), ("ending_at", f"{until}T00:00:00Z"), ("bucket_width", "1d"),
              ("limit", "31")]
    usage = fetch_pages(base_url, key, USAGE_PATH, window + [("group_by[]", "model"), ("group_by[]", "service_tier"),
                                                             ("group_by[]", "context_window")])
    cost = fetch_pages(base_url, key, COST_PATH, window + [("group_by[]", "description")])
    if save_dir:
        save_dir.mkdir(parents=True, exist_ok=True)
        for name, pages in (("usage", usage), ("cost", cost)):
            (save_dir / f"{name}_report_{since}_{until}.jsonl").write_text(
                "".join(json.dumps(p) + "\n" for p in pages), encoding="utf-8")
    return load_pages(store, usage + cost, f"admin-api {since}..{until}"), len(usage), len(cost)
