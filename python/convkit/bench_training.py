"""python3 -m convkit.bench_training: one training step through convkit.torch against plain PyTorch.

A training step is what a PyTorch training loop runs per batch: zero the gradients, forward, loss, backward
(input and weight gradients of every convolution), optimizer step. Both sides are the same torch.nn.Module
with the same initial weights; only the convolution layers differ: torch.nn.Conv1d/Conv2d against
convkit.torch.Conv1d/Conv2d (forward by convkit's plans, backward by its conv_backward_data/_weights/_bias).
Everything else (activations, loss, optimizer) is torch's on both sides. Since the optimizer changes the
weights every step, convkit packs them again every step: that cost is part of the measurement.

Models (issue 19's training-step benchmark):
    mobilenetv2.block  a MobileNetV2 inverted-residual block at 56x56: 1x1 expand 24->144, ReLU6, 3x3
                       depthwise (groups=144), ReLU6, 1x1 project 144->24, residual add; batch 8; MSE loss.
    activity.cnn       the 1D activity-recognition CNN of bench/layers.json's accelerometer row: (64, 3, 120)
                       windows, Conv1d 3->64 k5, ReLU, Conv1d 64->64 k5, ReLU, global average, Linear 64->6;
                       cross-entropy loss.

Before timing, one step from the same state must give the same loss and gradients on both sides (float32
rounding: rtol 1e-3 / atol 1e-4 on gradients). Timing as python3 -m convkit.bench (turns, medians).
"""

import argparse
import json
import os
import sys

import numpy as np

import convkit
from .bench import _time


def _models(torch):
    nn = torch.nn

    class InvertedResidual(nn.Module):
        def __init__(self, conv2d, channels=24, expansion=6):
            super().__init__()
            hidden = channels * expansion
            self.expand = conv2d(channels, hidden, 1)
            self.depthwise = conv2d(hidden, hidden, 3, padding=1, groups=hidden)
            self.project = conv2d(hidden, channels, 1)

        def forward(self, x):
            y = nn.functional.relu6(self.expand(x))
            y = nn.functional.relu6(self.depthwise(y))
            return x + self.project(y)

    class ActivityCnn(nn.Module):
        def __init__(self, conv1d, axes=3, filters=64, classes=6):
            super().__init__()
            self.conv1 = conv1d(axes, filters, 5)
            self.conv2 = conv1d(filters, filters, 5)
            self.classify = nn.Linear(filters, classes)

        def forward(self, x):
            y = nn.functional.relu(self.conv2(nn.functional.relu(self.conv1(x))))
            return self.classify(y.mean(dim=2))

    return {
        # make(convs): the model with the convolution classes of `convs` (torch.nn or convkit.torch)
        "mobilenetv2.block": dict(make=lambda convs: InvertedResidual(convs.Conv2d), input=(24, 56, 56), batch=8,
                                  loss="mse"),
        "activity.cnn": dict(make=lambda convs: ActivityCnn(convs.Conv1d), input=(3, 120), batch=64,
                             loss="cross_entropy"),
    }


class _Trainer:
    """One model, its optimizer and a fixed batch; step() is one training step."""

    def __init__(self, torch, model, x, target, loss):
        self.torch, self.model, self.x, self.target = torch, model, x, target
        self.loss = torch.nn.functional.mse_loss if loss == "mse" else torch.nn.functional.cross_entropy
        self.optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step(self):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(self.model(self.x), self.target)
        loss.backward()
        self.optimizer.step()
        return loss

    def gradients_of_one_step(self):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(self.model(self.x), self.target)
        loss.backward()
        return float(loss), [p.grad.detach().clone() for p in self.model.parameters()]


def trainers(torch, spec, batch):
    """(convkit trainer, torch trainer) for a model of _models(), same initial weights and batch."""
    import convkit.torch as convkit_torch

    torch.manual_seed(20261207)
    reference = spec["make"](torch.nn)
    mine = spec["make"](convkit_torch)
    mine.load_state_dict(reference.state_dict())
    generator = torch.Generator().manual_seed(7)
    x = torch.rand((batch,) + spec["input"], generator=generator) * 2 - 1
    if spec["loss"] == "mse":
        target = torch.rand(reference(x).shape, generator=generator)
    else:
        target = torch.randint(0, 6, (batch,), generator=generator)
    return _Trainer(torch, mine, x, target, spec["loss"]), _Trainer(torch, reference, x, target, spec["loss"])


def check_same_step(name, mine, theirs):
    """Raises AssertionError when convkit's loss or gradients differ from torch's for the same step."""
    loss_mine, grads_mine = mine.gradients_of_one_step()
    loss_theirs, grads_theirs = theirs.gradients_of_one_step()
    np.testing.assert_allclose(loss_mine, loss_theirs, rtol=1e-4, err_msg=f"{name}: loss")
    for index, (a, b) in enumerate(zip(grads_mine, grads_theirs)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4, err_msg=f"{name}: gradient {index}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m convkit.bench_training", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default=f"1,{os.cpu_count()}", help="thread counts (default %(default)s)")
    parser.add_argument("--filter", default="", help="only the models whose name contains this")
    parser.add_argument("--batch", type=int, help="batch size for every model (default: each model's own)")
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per implementation and row")
    parser.add_argument("--json", help="also write the results to this file")
    options = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("convkit.bench_training needs PyTorch (Debian: apt-get install python3-torch)", file=sys.stderr)
        return 2
    threads = sorted({int(t) for t in options.threads.split(",")})
    results = []
    print(f"{'model':20} {'thr':>3} {'convkit ms':>10} {'torch ms':>9} {'vs torch':>8} {'page faults/step':>18}")
    for name, spec in _models(torch).items():
        if options.filter not in name:
            continue
        batch = options.batch or spec["batch"]
        for count in threads:
            convkit.set_num_threads(count)
            torch.set_num_threads(count)
            mine, theirs = trainers(torch, spec, batch)
            check_same_step(name, mine, theirs)
            timed = _time([mine.step, theirs.step], options.min_time)
            speedup = timed[1]["median_ms"] / timed[0]["median_ms"]
            for impl, stats in zip(("convkit", "torch"), timed):
                row = dict(model=name, batch=batch, threads=count, impl=impl, **stats)
                if impl == "convkit":
                    row["speedup_vs_torch"] = speedup
                results.append(row)
            print(f"{name:20} {count:3d} {timed[0]['median_ms']:10.3f} {timed[1]['median_ms']:9.3f} {speedup:7.2f}x "
                  f"{timed[0]['page_faults']:8.0f} /{timed[1]['page_faults']:6.0f}", flush=True)
    if options.json:
        with open(options.json, "w") as file:
            json.dump(dict(benchmark="training_step", torch=torch.__version__, results=results), file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
