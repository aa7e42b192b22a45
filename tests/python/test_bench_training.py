"""python3 -m convkit.bench_training runs, checks convkit's training step against torch's before timing it,
and writes rows in the documented schema."""

import json

import pytest

torch = pytest.importorskip("torch")

from convkit import bench_training  # noqa: E402


def test_every_model_trains_like_torch_and_is_timed(tmp_path, capsys):
    out = tmp_path / "training.json"
    assert bench_training.main(["--threads", "1", "--batch", "2", "--min-time", "0.02", "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["benchmark"] == "training_step"
    rows = document["results"]
    assert {(row["model"], row["impl"]) for row in rows} == {
        (model, impl) for model in ("mobilenetv2.block", "activity.cnn") for impl in ("convkit", "torch")}
    for row in rows:
        assert row["batch"] == 2 and row["threads"] == 1 and row["median_ms"] > 0 and row["repetitions"] >= 2
        assert (row["impl"] == "convkit") == ("speedup_vs_torch" in row)
    assert "mobilenetv2.block" in capsys.readouterr().out


def test_a_wrong_gradient_is_caught():
    spec = bench_training._models(torch)["activity.cnn"]
    mine, theirs = bench_training.trainers(torch, spec, 2)
    with torch.no_grad():
        mine.model.conv2.weight.mul_(1.01)  # no longer the same model
    with pytest.raises(AssertionError, match="activity.cnn"):
        bench_training.check_same_step("activity.cnn", mine, theirs)
