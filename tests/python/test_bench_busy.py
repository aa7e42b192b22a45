"""bench/busy.py (the busy-machine protocol of docs/benchmarks.md) runs and reports against ideal sharing."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("CONVKIT_BUILD_DIR", ROOT / "build")).resolve()


def test_busy_protocol_on_one_layer(tmp_path):
    cli = BUILD / "convkit"
    if not cli.exists():
        pytest.skip(f"no convkit CLI at {cli} (set CONVKIT_BUILD_DIR)")
    output = tmp_path / "busy.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "busy.py"), "--convkit", str(cli), "--filter", "sobel",
                          "--layout", "channels_first", "--threads", "2", "--min-time", "0.02", "--json", str(output)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    document = json.loads(output.read_text())
    cores = os.cpu_count()
    share = lambda threads: min(1.0, cores / threads)  # noqa: E731 (the docstring's formula)
    assert document["ideal"] == {"one core busy": share(2) / share(3), "two copies": share(2) / share(4)}
    busy, copies = document["runs"]["one core busy"], document["runs"]["two copies"]
    assert busy["rows"] == 1 and copies["rows"] == 2  # one layer; each copy's row against the idle one
    for row in busy["rows_detail"] + copies["rows_detail"]:
        assert row["layer"] == "image.sobel3x3" and row["idle_ms"] > 0 and row["loaded_ms"] > 0
    assert "one core busy: ideal" in run.stdout and "two copies: ideal" in run.stdout
