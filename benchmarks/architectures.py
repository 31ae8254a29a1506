"""Speed of the paper's 20 configurations on this machine, against the compute floor.

For each (structure, budget): trainable and total parameters, forward and
training-step time per clip at batch 16, and how far each is above the compute
floor, ``FLOPs per clip / measured matmul throughput``. The throughput is the best
of 10 float32 2048 x 2048 matmuls, as each model time is the best of ``--repeats``
calls; it is measured again just before each configuration, so that a machine
shared with other work is compared with itself under the same load. FLOPs count the multiply-adds (x2) of the conv, dense and recurrent layers
from their shapes (BatchNorm, ELU and pooling are left out); a training step is
counted as 3 forward passes (the backward pass costs about twice the forward one).
A ratio near 1 means the model runs as fast as this machine multiplies matrices.

Usage::

    python benchmarks/architectures.py                          # all 20
    python benchmarks/architectures.py --archs crnn k2c2 --budgets 100000 --repeats 5
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Callable

import keras
import numpy as np
from keras import layers

from music_tagger.models.architectures import BUDGETS, STRUCTURES
from music_tagger.models.budgets import count_params
from music_tagger.models.builders import build

BATCH = 16


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matmul throughput of this backend, in GFLOP/s (best call)."""
    a = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=(n, n)), "float32")
    seconds = seconds_per_call(lambda: keras.ops.convert_to_numpy(keras.ops.matmul(a, a)), repeats)
    return 2 * n**3 / seconds / 1e9


def _recurrent_flops(layer, steps: int, features: int) -> int:
    gates = {"GRU": 3, "LSTM": 4}[type(layer).__name__]
    return 2 * steps * gates * (features * layer.units + layer.units**2)


def flops_per_clip(model: keras.Model) -> int:
    """FLOPs (2 x multiply-adds) of one forward pass of one clip."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            rows, cols = layer.kernel_size
            out = layer.output.shape
            total += 2 * out[1] * out[2] * out[3] * rows * cols * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            steps = math.prod(layer.input.shape[1:-1])
            total += 2 * steps * layer.input.shape[-1] * layer.units
        elif isinstance(layer, (layers.GRU, layers.LSTM, layers.Bidirectional)):
            _, steps, features = layer.input.shape
            if isinstance(layer, layers.Bidirectional):
                total += sum(_recurrent_flops(d, steps, features) for d in (layer.forward_layer, layer.backward_layer))
            else:
                total += _recurrent_flops(layer, steps, features)
    return total


def seconds_per_call(fn: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` timed calls after one warm-up call (which traces)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def benchmark(arch: str, budget: int, repeats: int) -> dict:
    keras.backend.clear_session()
    model = build(arch, n_params=budget)
    trainable, total = count_params(model)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, *model.input_shape[1:])).astype("float32")
    y = (rng.random((BATCH, model.output_shape[-1])) < 0.1).astype("float32")
    model.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=False)
    forward = seconds_per_call(lambda: model.predict_on_batch(x), repeats) / BATCH
    train = seconds_per_call(lambda: model.train_on_batch(x, y), repeats) / BATCH
    flops = flops_per_clip(model)
    gflops = matmul_gflops()
    floor = flops / (gflops * 1e9)
    return dict(
        arch=arch,
        budget=budget,
        trainable=trainable,
        total=total,
        gflop=flops / 1e9,
        matmul_gflops=gflops,
        forward_ms=forward * 1e3,
        train_ms=train * 1e3,
        forward_ratio=forward / floor,
        train_ratio=train / (3 * floor),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", default=list(STRUCTURES), choices=list(STRUCTURES))
    budgets = sorted(BUDGETS["crnn"])
    parser.add_argument("--budgets", nargs="+", type=int, default=budgets, choices=budgets)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls, best kept")
    args = parser.parse_args(argv)

    print(
        f"keras {keras.__version__} ({keras.backend.backend()}), {os.cpu_count()} CPUs, "
        f"batch {BATCH}, best of {args.repeats} calls"
    )
    print(
        "| arch | budget | trainable | total | GFLOP/clip | matmul GFLOP/s "
        "| forward ms/clip | train ms/clip | forward / floor | train / floor |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for arch in args.archs:
        for budget in args.budgets:
            r = benchmark(arch, budget, args.repeats)
            print(
                f"| {r['arch']} | {r['budget']:,} | {r['trainable']:,} | {r['total']:,} "
                f"| {r['gflop']:.2f} | {r['matmul_gflops']:.0f} "
                f"| {r['forward_ms']:.1f} | {r['train_ms']:.1f} "
                f"| {r['forward_ratio']:.1f} | {r['train_ratio']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
