"""python3 -m convkit.bench runs end to end on a tiny suite and writes rows in `convkit bench --json`'s schema."""

import json
import pathlib

import pytest

pytest.importorskip("torch", reason="the benchmark compares against python3-torch")
from convkit import bench  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_bench_on_the_tiny_suite(tmp_path, capsys):
    output = tmp_path / "bench.json"
    bench.main(["--suite", str(ROOT / "tests" / "data" / "bench_tiny.json"), "--threads", "1", "--min-time", "0",
                "--json", str(output)])
    document = json.loads(output.read_text())
    layers = json.loads((ROOT / "tests" / "data" / "bench_tiny.json").read_text())["layers"]
    assert len(document["results"]) == 2 * 2 * len(layers)  # convkit and torch, both layouts
    for row in document["results"]:
        assert row["impl"] in ("convkit", "torch") and row["status"] == "ok"
        assert row["median_ms"] > 0 and row["max_rel_error"] < 1e-4, row
    assert {"convkit_us", "convkit_plan_us", "torch_us"} <= set(document["call_overhead"])
    assert "vs torch" in capsys.readouterr().out
    bench.main(["--table", str(output)])
    table = capsys.readouterr().out
    assert table.count("| tiny.") == 2 * len(layers) and "Geometric mean" in table and "Per-call overhead" in table
    bench.main(["--table", str(output), "--statistic", "min"])
    assert capsys.readouterr().out.count("| tiny.") == 2 * len(layers)
