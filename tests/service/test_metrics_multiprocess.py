"""Metrics with several workers: each worker's counts land in files that any worker's scrape adds up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# prometheus_client reads PROMETHEUS_MULTIPROC_DIR at its first import: each worker is a fresh process.
WORKER = """
import sys
from service.metrics.collectors import Metrics
metrics = Metrics(multiprocess_dir=sys.argv[1])
metrics.cache_lookup(hit=True)
sys.stdout.buffer.write(metrics.exposition([]))
"""


def test_a_scrape_adds_up_every_workers_counts_without_created_series(tmp_path: Path) -> None:
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    scrapes = [
        subprocess.run([sys.executable, "-c", WORKER, str(tmp_path)], env=env, capture_output=True, check=True).stdout
        for _ in range(2)
    ]
    assert b'shinsei_verifier_cache_lookups_total{result="hit"} 1.0' in scrapes[0]
    assert b'shinsei_verifier_cache_lookups_total{result="hit"} 2.0' in scrapes[1]  # the first worker's count too
    assert b"_created" not in scrapes[1]
