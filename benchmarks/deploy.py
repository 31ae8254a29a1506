"""The TensorFlow and ONNX runtimes side by side: cold start, per-crop time, tag() throughput.

One run measures, alternating the runtimes so that both see the same machine load:

1. ``cold one-file CLI``: ``music-tagger tag --runtime R FILE`` in a fresh process,
   ``--runs`` times per runtime (tf, onnx, tf, onnx, ...), wall seconds and the CPU
   seconds of the process tree; the ONNX file is built once before (first use, then
   cached);
2. ``per crop``: the network alone on random log-mels at batch 1 and 8, milliseconds
   per crop (best of ``--repeats``): Keras ``predict_on_batch``, and onnxruntime with
   its default threads, 1 thread, 2 threads, with only the basic graph
   optimisations, and the audio-in graph the onnx tagger runs (front end inside);
   the scores are checked against Keras (max |diff|) on 8 crops of generated audio;
3. ``tag() throughput``: ``tag(files, runtime=R)`` in the default mode (8 crops)
   on generated full-length tracks (``benchmarks/tagging.py``'s), in a fresh process
   per run, seconds per file for the call alone (imports and model load excluded).

It prints one table per part and the machine's load average, which matters on a
shared machine: compare numbers only within one run.

Usage::

    python benchmarks/deploy.py --data /tmp/tagging-bench --tracks 4 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_TAG_CALL = """
import json, sys, time
from music_tagger import tag
files, runtime = json.loads(sys.argv[1]), sys.argv[2]
from music_tagger.tagging.networks import get_model
get_model("crnn", runtime)  # the model is loaded before the clock starts
start = time.perf_counter()
results = tag(files, runtime=runtime, progress=False)
wall = time.perf_counter() - start
assert all(r.ok for r in results), [r.error for r in results if not r.ok]
print(json.dumps({"wall": wall, "scores": [r.scores.tolist() for r in results]}))
"""


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    return env


def cold_cli(path: str, runs: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall seconds of ``music-tagger tag --runtime R path`` in fresh processes, and
    the CPU seconds (user + system) of each process tree, which the load of a
    shared machine does not inflate."""
    import resource

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    walls: dict[str, list[float]] = {"tf": [], "onnx": []}
    cpus: dict[str, list[float]] = {"tf": [], "onnx": []}
    for _ in range(runs):
        for runtime in walls:
            start, cpu_start = time.perf_counter(), cpu()
            subprocess.run(
                [sys.executable, "-m", "music_tagger", "tag", "--runtime", runtime, path],
                check=True, capture_output=True, env=_env(),
            )  # fmt: skip
            walls[runtime].append(time.perf_counter() - start)
            cpus[runtime].append(cpu() - cpu_start)
    return walls, cpus


def _best_ms(fn, x: np.ndarray, repeats: int) -> float:
    fn(x)  # warm-up (Keras traces, onnxruntime allocates)
    best = min(_clock(fn, x) for _ in range(repeats))
    return 1000 * best / len(x)


def _clock(fn, x) -> float:
    start = time.perf_counter()
    fn(x)
    return time.perf_counter() - start


def per_crop(repeats: int) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """ms per crop at batch 1 and 8 for each runtime, and max |diff| against Keras."""
    import onnxruntime as ort

    from music_tagger import audio
    from music_tagger.runtime.sessions import OnnxModel, cached_onnx
    from music_tagger.tagging.networks import get_model

    rng = np.random.default_rng(0)
    t = np.arange(audio.N_SAMPLES) / audio.SR
    samples = np.stack([0.2 * np.sin(2 * np.pi * (110 * (i + 1)) * t) * (1 + np.sin(t * (i + 1)))
                        + 0.05 * rng.standard_normal(len(t)) for i in range(8)]).astype(np.float32)  # fmt: skip
    x = np.stack([audio.log_melgram(y) for y in samples])[..., None]
    path = cached_onnx("crnn")
    basic = ort.SessionOptions()
    basic.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    runners = {
        "onnxruntime (default threads)": OnnxModel(path).predict_on_batch,
        "onnxruntime, 1 thread": OnnxModel(path, threads=1).predict_on_batch,
        "onnxruntime, 2 threads": OnnxModel(path, threads=2).predict_on_batch,
        "onnxruntime, basic graph optimisations": _session_fn(ort, path, basic),
        "onnxruntime, audio in (what tag uses)": OnnxModel(cached_onnx("crnn", "audio")).predict_on_batch,
        "tf (Keras predict_on_batch)": get_model("crnn", "tf").predict_on_batch,
    }
    reference = np.asarray(runners["tf (Keras predict_on_batch)"](x))
    times, diffs = {}, {}
    for round_ in range(2):  # two rounds, runtimes alternating; the best of both
        for name, fn in runners.items():
            inputs = samples if "audio in" in name else x
            t = (_best_ms(fn, inputs[:1], repeats), _best_ms(fn, inputs, repeats))
            times[name] = t if round_ == 0 else tuple(min(a, b) for a, b in zip(times[name], t))
            diffs[name] = float(np.abs(np.asarray(fn(inputs)) - reference).max())
    return times, diffs


def _session_fn(ort, path, options):
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"melgram": x})[0]


def tag_throughput(files: list[str], runs: int) -> tuple[dict[str, list[float]], float]:
    """Seconds of ``tag(files, runtime=R)`` per run, fresh processes; max score diff."""
    out: dict[str, list[float]] = {"tf": [], "onnx": []}
    scores = {}
    for _ in range(runs):
        for runtime in out:
            proc = subprocess.run(
                [sys.executable, "-c", _TAG_CALL, json.dumps(files), runtime],
                check=True, capture_output=True, text=True, env=_env(),
            )  # fmt: skip
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            out[runtime].append(result["wall"])
            scores[runtime] = np.asarray(result["scores"])
    return out, float(np.abs(scores["tf"] - scores["onnx"]).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "music-tagger-bench"),
                        help="folder of the generated tracks (reused)")  # fmt: skip
    parser.add_argument("--tracks", type=int, default=4, help="full-length tracks for tag()")
    parser.add_argument("--runs", type=int, default=3, help="runs per runtime (cold CLI, tag())")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per per-crop measurement")
    parser.add_argument("--file", default=None, help="the cold-start file (default: bensound-cute)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(HERE))
    from tagging import make_tracks  # benchmarks/tagging.py's generated tracks

    from music_tagger.registry import example
    from music_tagger.runtime.sessions import cached_onnx
    from music_tagger.util.workers import default_workers

    for kind in ("melgram", "audio"):
        cached_onnx("crnn", kind)  # first use builds them; every timing below finds them cached
    print(f"{os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}")

    one = args.file or str(example("bensound-cute"))
    cold, cpus = cold_cli(one, args.runs)
    print(f"\n1. cold one-file CLI: music-tagger tag --runtime R {Path(one).name} (default mode, 8 crops)")
    for runtime, walls in cold.items():
        print(f"   {runtime:5s} wall " + "  ".join(f"{w:5.2f} s" for w in walls) + f"   median {np.median(walls):.2f} s"
              f";  CPU (all processes) median {np.median(cpus[runtime]):.2f} s")  # fmt: skip

    times, diffs = per_crop(args.repeats)
    print("\n2. per crop, network alone (ms per crop; max |score diff| vs Keras on 8 generated crops)")
    print(f"   {'runtime':42s} {'batch 1':>8s} {'batch 8':>8s}  {'max diff':>8s}")
    for name, (b1, b8) in times.items():
        print(f"   {name:42s} {b1:8.1f} {b8:8.1f}  {diffs[name]:8.1e}")

    files = make_tracks(Path(args.data) / "tracks", args.tracks, default_workers())
    walls, diff = tag_throughput(files, args.runs)
    print(f"\n3. tag() default mode on {len(files)} generated full-length tracks "
          f"(s per file, fresh process per run; max |score diff| tf vs onnx {diff:.1e})")  # fmt: skip
    for runtime, w in walls.items():
        per_file = [x / len(files) for x in w]
        print(f"   {runtime:5s} " + "  ".join(f"{x:5.2f}" for x in per_file) + f"   median {np.median(per_file):.2f}")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
