"""examples/dask_volume.py runs end to end on a tiny volume: the table it prints is complete, the workers stayed
under their limit and the convkit result agrees with the map_overlap + scipy.ndimage baseline."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "dask_volume.py"


def test_example_runs_tiny(tmp_path):
    run = subprocess.run([sys.executable, str(EXAMPLE), "--shape", "24", "40", "36", "--chunks", "11", "17", "36",
                          "--baseline-depth", "12", "--memory-limit", "512MiB", "--dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert run.returncode == 0, run.stderr[-3000:]
    table = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", run.stdout, flags=re.M))
    for row in ("convkit.dask throughput", "compute tasks vs single process", "convkit.dask vs baseline"):
        assert any(key.startswith(row) for key in table), (row, run.stdout)
    peaks = [float(p) for p in re.findall(r"([\d.]+) MiB", table["peak worker memory (VmHWM; limit 512MiB)"])]
    assert len(peaks) == 2 and all(p < 512 for p in peaks)
    assert float(table["max difference to the baseline (inner slices)"]) < 1e-4
    assert (tmp_path / "output.zarr").is_dir()
