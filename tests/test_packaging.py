"""The installed package, not only the source checkout, carries its SQL files and price data."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from helpers import ROOT

PROBE = """
import sys, costlab
from pathlib import Path
assert Path(costlab.__file__).is_relative_to(Path(sys.argv[1])), costlab.__file__
from costlab.open import open_store
from costlab.config import Config
from costlab.store import queries
s = open_store(':memory:', Config())
print(len(queries.starter_queries()), s.scalar("select count(*) from prices"), s.scalar("select count(*) from price_card"))
print(s.run_query("cost_by_feature").height)
"""


@pytest.mark.slow
def test_a_built_wheel_installs_and_finds_its_queries_and_price_catalogue(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((tmp_path / "dist").glob("costlab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "costlab/data/catalogue.toml" in names
    assert "costlab/queries/views/costed_requests.sql" in names
    assert "costlab/queries/cost_by_feature.sql" in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # Run from an empty folder with the wheel's copy first on the path: no source checkout in sight.
    probe = subprocess.run([sys.executable, "-c", PROBE, str(site)], cwd=tmp_path, capture_output=True, text=True,
                           env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert probe.returncode == 0, probe.stderr
    n_queries, n_prices, n_card = (int(x) for x in probe.stdout.split()[:3])
    assert n_queries >= 6 and n_prices >= 30 and n_card > n_prices
