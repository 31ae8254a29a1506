"""The fast default is as trustworthy as the slow runtime.

A table of what a hostile but realistic user does to ``tag`` on the onnx default,
its graph cache and ``export``: each case ends in one line and its exit status, or
in the right result, never in a traceback, and nothing that is not the package's own
temporary file is created or replaced. Special files are made in temporary folders
(a device node with ``mknod`` where the tests may make one, else a FIFO stands in).
About 45 s of CPU, 105 s on the shared two-core machine (a few subprocesses import
TensorFlow).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from music_tagger import TAGS, cli, tag  # noqa: E402
from music_tagger.errors import MissingFileError, OutputExistsError, ParameterError  # noqa: E402
from music_tagger.runtime import sessions as runtime  # noqa: E402
from music_tagger.tagging import networks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORDS_OF_ONE_LINE = ("Traceback", 'File "')
#: ``music-tagger`` in a fresh process.
COMMAND = [sys.executable, "-c", "import sys; from music_tagger.cli import main; sys.exit(main())"]


def _one_line(err: str) -> str:
    """The error line of a run's stderr; fails on a traceback or several lines."""
    assert not any(w in err for w in WORDS_OF_ONE_LINE), err
    lines = [
        x for x in err.splitlines() if x.strip() and not x.startswith(("usage:", " ", "WARNING: All log", "I0000"))
    ]
    assert len(lines) == 1, err
    return lines[0]


def _special(path: Path, kind: str) -> Path:
    """A FIFO, a device node, a symlink or a dangling symlink at ``path``."""
    if kind == "device":
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is
            return path
        except PermissionError:  # not root (or no CAP_MKNOD): a FIFO stands in
            kind = "fifo"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        (path.parent / "target").write_bytes(b"keep me")
        path.symlink_to(path.parent / "target")
    elif kind == "dangling symlink":
        path.symlink_to(path.parent / "nowhere")
    return path


def _state(folder: Path) -> dict:
    """What is in ``folder``: name -> (mode, size, contents of regular files)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = os.lstat(p)
        data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
        out[str(p.relative_to(folder))] = (stat.S_IFMT(st.st_mode), data)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory, reference_data) -> Path:
    root = tmp_path_factory.mktemp("clips")
    y = 0.1 * np.random.default_rng(0).standard_normal(12000 * 4).astype(np.float32)
    for name, value in (("nan", np.nan), ("inf", np.inf), ("minus-inf", -np.inf)):
        z = y.copy()
        z[5000] = value
        sf.write(root / f"{name}.wav", z, 12000, subtype="FLOAT")
    stereo = np.stack([y, y], axis=1)
    stereo[-1, 1] = np.nan  # the last sample of one channel only
    sf.write(root / "nan-late-stereo.wav", stereo, 12000, subtype="DOUBLE")
    os.mkfifo(root / "fifo.wav")
    _special(root / "device.wav", "device")
    (root / "link-to-fifo.wav").symlink_to(root / "fifo.wav")
    (root / "song.mp3").symlink_to(reference_data / "bensound-cute.mp3")
    return root


@pytest.fixture()
def cold_cache(tmp_path, monkeypatch):
    """An empty graph cache, the processes' models forgotten before and after."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    runtime.pretrained.cache_clear()
    networks._pretrained.cache_clear()
    yield tmp_path / "home" / "music_tagger" / "onnx"
    runtime.pretrained.cache_clear()
    networks._pretrained.cache_clear()


# --------------------------------------------------------------------------- inputs


BAD_AUDIO = {"nan.wav": "NaN or infinite", "inf.wav": "NaN or infinite", "minus-inf.wav": "NaN or infinite",
             "nan-late-stereo.wav": "NaN or infinite", "fifo.wav": "not a regular file",
             "device.wav": "not a regular file", "link-to-fifo.wav": "not a regular file"}  # fmt: skip


@pytest.mark.parametrize("runtime_name", ["onnx", "tf"])
def test_non_finite_audio_and_a_fifo_are_one_line_on_both_runtimes(clips, runtime_name, monkeypatch, capsys):
    monkeypatch.chdir(clips)
    start = time.monotonic()
    assert cli.main(["tag", *BAD_AUDIO, "--runtime", runtime_name, "--format", "jsonl"]) == 1
    assert time.monotonic() - start < 120  # the FIFO is not waited on
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    for name, words in BAD_AUDIO.items():
        assert f"{name}: " in err and words in err.split(f"{name}: ", 1)[1].splitlines()[0], err
    assert out.count('"error"') == len(BAD_AUDIO) and "null" not in out.replace('"taggram"', "")


def test_non_finite_audio_is_one_line_in_features_and_probe(clips, tmp_path, monkeypatch, capsys):
    from music_tagger.embeddings.files import write_features

    monkeypatch.chdir(clips)
    for arch in ("crnn", "cnn", "compact"):
        assert cli.main(["features", "nan.wav", "--arch", arch, "--quiet", "--out", str(tmp_path / arch)]) == 1
        assert "nan.wav: the audio contains NaN or infinite samples" in _one_line(capsys.readouterr().err)
    rng = np.random.default_rng(0)
    for split in ("train", "valid", "test"):  # a probe on crnn features, to tag with
        y = np.tile(np.eye(2, dtype=np.uint8), (10, 1))
        x = (y[:, :1] + 0.1 * rng.standard_normal((20, 1))).repeat(4, axis=1).astype(np.float32)
        write_features(
            tmp_path / "f" / split,
            x,
            [str(i) for i in range(20)],
            {"arch": "crnn", "level": "top", "crops": 1, "resampler": "kaiser_best_2016"},
            y=y,
            tags=["a", "b"],
        )
    assert cli.main(["probe", str(tmp_path / "f"), str(tmp_path / "probe")]) == 0
    capsys.readouterr()
    assert cli.main(["probe", str(tmp_path / "probe"), "--tag", "inf.wav"]) == 1
    assert "inf.wav: the audio contains NaN or infinite samples" in _one_line(capsys.readouterr().err)


# --------------------------------------------------------------------------- the graph cache


@pytest.fixture(scope="module")
def tf_scores(clips) -> np.ndarray:
    (result,) = tag([clips / "song.mp3"], runtime="tf")
    return result.scores


@contextlib.contextmanager
def _read_only(folder: Path, monkeypatch):
    """``folder`` read-only: its mode for a user, a read-only tmpfs mount for root.

    Where root cannot mount (a container without CAP_SYS_ADMIN), the kernel's answer
    is played instead: writes below ``folder`` fail with EROFS, and ``os.access``
    says so, as on a read-only mount.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield
        folder.chmod(0o700)
        return
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                                 capture_output=True).returncode == 0  # fmt: skip
    except FileNotFoundError:  # no mount command
        mounted = False
    if mounted:
        try:
            yield
        finally:
            subprocess.run(["umount", str(folder)], check=True)
        return
    from music_tagger.util import files

    inside = lambda p: str(Path(p).absolute()).startswith(str(folder))  # noqa: E731
    access, mkdir, publish = os.access, Path.mkdir, files.atomic_path

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(
        files.os, "access", lambda p, mode, **k: not (mode & os.W_OK and inside(p)) and access(p, mode, **k)
    )
    monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: refuse() if inside(self) else mkdir(self, *a, **k))
    monkeypatch.setattr(runtime, "atomic_path", lambda p, **k: refuse() if inside(p) else publish(p, **k))
    yield


@pytest.mark.parametrize("case", ["read-only", "a file where the folder goes", "a folder where the graph goes"])
def test_tag_runs_from_memory_where_the_cache_cannot_be_written(case, clips, tf_scores, cold_cache, monkeypatch):
    home = cold_cache.parents[1]
    if case == "a file where the folder goes":
        cold_cache.parent.mkdir(parents=True)
        cold_cache.write_text("mine")
    elif case == "a folder where the graph goes":
        runtime._cache_path("crnn", "audio").mkdir(parents=True)
    before = _state(home) if home.exists() else {}
    with _read_only(home, monkeypatch) if case == "read-only" else contextlib.nullcontext():
        with pytest.warns(RuntimeWarning) as caught:
            (result,) = tag([clips / "song.mp3"])
        after = _state(home)
    assert (
        len([w for w in caught if "cannot be cached" in str(w.message) and "runs from memory" in str(w.message)]) == 1
    )
    assert np.abs(result.scores - tf_scores).max() <= 2e-5
    assert after == before  # nothing made, nothing replaced


def test_tag_runs_from_memory_on_a_full_disk(clips, tf_scores, tmp_path):
    """A file-size limit (``ulimit -f``) stands in for a full disk; so does a 64 kB tmpfs as root."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)); "
            "from music_tagger import tag; (r,) = tag([sys.argv[1]]); "
            "print(' '.join(f'{s:.9f}' for s in r.scores))")  # fmt: skip
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [sys.executable, "-c", code, str(clips / "song.mp3")], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert "File too large" in run.stderr and "runs from memory" in run.stderr and "Traceback" not in run.stderr
    scores = np.array(run.stdout.split(), float)
    assert np.abs(scores - tf_scores).max() <= 2e-5
    assert list((tmp_path / "home" / "music_tagger" / "onnx").iterdir()) == []  # no temporary left


def test_a_cached_graph_altered_in_place_is_detected_and_rebuilt(clips, cold_cache):
    import onnx

    (first,) = tag([clips / "song.mp3"])
    path = runtime._cache_path("crnn", "audio")
    data = path.read_bytes()
    weight = next(t for t in onnx.load_from_string(data).graph.initializer if t.name == "output_kernel")
    at = data.index(weight.raw_data)
    values = np.frombuffer(weight.raw_data, np.float32).copy()
    values[:50] *= 3.0  # the first row of the output layer: every tag moves
    path.write_bytes(data[:at] + values.tobytes() + data[at + len(values.tobytes()) :])
    onnx.load(path)  # still a loadable graph
    runtime.pretrained.cache_clear()
    networks._pretrained.cache_clear()
    (again,) = tag([clips / "song.mp3"])
    np.testing.assert_array_equal(again.scores, first.scores)
    assert path.read_bytes() == data  # built again


def test_a_cached_graph_without_its_digest_is_built_again(cold_cache):
    path = runtime.cached_onnx("cnn")
    digest = runtime._digest_path(path)
    digest.unlink()
    runtime.cached_onnx("cnn")
    assert digest.read_text().strip() == __import__("hashlib").sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- a broken runtime


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    """Importable packages that fail: onnxruntime with a missing library, onnx raising."""
    root = tmp_path_factory.mktemp("broken")
    (root / "onnxruntime").mkdir()
    (root / "onnxruntime" / "__init__.py").write_text(
        'raise ImportError("libonnxruntime.so.1: cannot open shared object file")\n'
    )
    (root / "onnx_only").mkdir()
    (root / "onnx_only" / "onnx").mkdir()
    (root / "onnx_only" / "onnx" / "__init__.py").write_text('raise RuntimeError("a broken onnx build")\n')
    return root


def _cli(args: list[str], pythonpath: str, home: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, KERAS_HOME=str(home), PYTHONPATH=pythonpath, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([*COMMAND, *args], env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


@pytest.mark.slow
def test_a_broken_onnx_install_falls_back_to_tf_with_one_line(broken, clips, tf_scores, tmp_path):
    song = str(clips / "song.mp3")
    path = f"{broken}{os.pathsep}{ROOT}"
    run = _cli(["tag", song, "--top", "50", "--format", "json"], path, tmp_path)
    assert run.returncode == 0 and "Traceback" not in run.stderr
    (warning,) = [line for line in run.stderr.splitlines() if "warning" in line.lower() and "absl" not in line]
    assert warning.startswith(
        "music-tagger: warning: onnxruntime is installed but cannot be imported (ImportError: libonnxruntime.so.1"
    ) and warning.endswith("running on tf instead")
    import json

    top = dict(json.loads(run.stdout)[0]["tags"])
    assert len(top) == 50 and max(abs(top[t] - s) for t, s in zip(TAGS, tf_scores)) <= 1e-6
    run = _cli(["tag", song, "--runtime", "onnx"], path, tmp_path)
    assert run.returncode == 1
    assert "onnxruntime is installed but cannot be imported" in _one_line(run.stderr)
    # onnxruntime fine, onnx broken, nothing cached: asked for, one line
    run = _cli(["tag", song, "--runtime", "onnx"], f"{broken / 'onnx_only'}{os.pathsep}{ROOT}", tmp_path / "cold")
    assert run.returncode == 1
    assert "the onnx package, which cannot be imported (a broken onnx build)" in _one_line(run.stderr)


# --------------------------------------------------------------------------- export


OUT_CASES = {
    # (what is at OUT, export args) -> words of the one line, the exit status
    "a fifo": ("fifo", [], "a FIFO is there"),
    "a device node": ("device", [], "is there"),
    "a symlink": ("symlink", ["--overwrite"], "a symbolic link is there"),
    "a dangling symlink": ("dangling symlink", [], "a symbolic link is there"),
    "a dangling symlink, --overwrite": ("dangling symlink", ["--overwrite"], "a symbolic link is there"),
    "a folder (onnx)": ("folder", ["--overwrite"], "a folder is there, not a file"),
    "a file (saved_model)": ("file", ["--overwrite", "--format", "saved_model"], "a file is there, not a folder"),
    "an existing file": ("file", [], "exists: pass --overwrite"),
}


@pytest.mark.parametrize("case", list(OUT_CASES))
def test_export_never_replaces_what_it_should_not(case, tmp_path, monkeypatch, capsys):
    from music_tagger.deploy import exports

    kind, args, words = OUT_CASES[case]
    out = tmp_path / "OUT"
    if kind == "folder":
        out.mkdir()
    elif kind == "file":
        out.write_bytes(b"old")
    else:
        _special(out, kind)
    before = _state(tmp_path)

    def build(*a, **k):
        raise AssertionError("the model was built before OUT was checked")

    monkeypatch.setattr(exports, "onnx_model", build)
    monkeypatch.setattr(exports, "keras_model", build)
    assert cli.main(["export", str(out), *args]) == 1
    assert words in _one_line(capsys.readouterr().err)
    assert _state(tmp_path) == before


BAD_OUTPUTS = {
    "below a file": (lambda root: root / "file" / "out", ParameterError),
    "a folder": (lambda root: root / "folder", ParameterError),
    "a fifo": (lambda root: root / "fifo", ParameterError),
    "a dangling symlink": (lambda root: root / "dangling", ParameterError),
}
#: Every command that writes one output file, with where the output goes.
WRITERS = {
    "export": lambda out: ["export", str(out)],
    "tag": lambda out: ["tag", "nan.wav", "--format", "jsonl", "--output", str(out)],
    "calibrate": lambda out: ["calibrate", "labels.csv", "--out", str(out)],
}


#: tag's records go into a pipe, a device or a link's target as a shell's ``>`` does
#: (``-o /dev/stdout``, a named pipe that another program reads): nothing is replaced
STREAMS = {("tag", "a fifo"), ("tag", "a dangling symlink")}


@pytest.mark.parametrize(("command", "bad"), [(c, b) for c in WRITERS for b in BAD_OUTPUTS if (c, b) not in STREAMS])
def test_one_bad_output_gives_one_error_class_from_every_command(command, bad, clips, tmp_path, monkeypatch):
    monkeypatch.chdir(clips)
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    if not (clips / "labels.csv").exists():
        (clips / "labels.csv").write_text("path,tags,split\nnan.wav,rock,valid\n")
    where, error = BAD_OUTPUTS[bad]
    before = _state(tmp_path)
    with pytest.raises(error):
        cli.main(["--debug", *WRITERS[command](where(tmp_path))])
    assert _state(tmp_path) == before


def test_export_makes_missing_folders_and_refuses_a_read_only_place(tmp_path, capsys, monkeypatch):
    out = tmp_path / "new" / "deeper" / "cnn.onnx"
    assert cli.main(["export", str(out), "--model", "cnn"]) == 0 and _loads(out)
    capsys.readouterr()
    with _read_only(tmp_path / "ro", monkeypatch):
        assert cli.main(["export", str(tmp_path / "ro" / "cnn.onnx"), "--model", "cnn"]) == 1
        assert "is not writable" in _one_line(capsys.readouterr().err)
        assert list((tmp_path / "ro").iterdir()) == []


#: The commands that write folders or sets of files, given an output below a file.
BELOW_A_FILE = {
    "features": lambda out: ["features", "nan.wav", "--out", f"{out}/f"],
    "probe": lambda out: ["probe", "feats", f"{out}/probe"],
    "synth": lambda out: ["synth", f"{out}/data"],
    "prepare": lambda out: ["prepare", "data", f"{out}/stores", "--top", "5", "--workers", "0"],
    "tag --plot": lambda out: ["tag", "nan.wav", "--plot", f"{out}/pngs"],
}


@pytest.mark.parametrize("command", list(BELOW_A_FILE))
def test_an_output_below_a_file_is_a_parameter_error_from_every_command(command, clips, tmp_path, monkeypatch):
    from music_tagger.datasets.synth import make_mtt_like
    from music_tagger.embeddings.files import write_features

    monkeypatch.chdir(tmp_path)
    make_mtt_like("data", n_clips=24, duration=1.0)
    for split in ("train", "valid", "test"):
        write_features(Path("feats") / split, np.eye(4, dtype=np.float32), list("abcd"), {"arch": "crnn"},
                       y=np.eye(4, 2, dtype=np.uint8), tags=["a", "b"])  # fmt: skip
    (tmp_path / "nan.wav").symlink_to(clips / "nan.wav")
    (tmp_path / "file").write_text("x")
    before = _state(tmp_path)
    with pytest.raises(ParameterError, match="is a file, not a folder|Not a directory"):
        cli.main(["--debug", *BELOW_A_FILE[command]("file")])
    assert _state(tmp_path) == before


def test_missing_folders_and_existing_outputs_give_one_error_class(tmp_path):
    from music_tagger.util.files import check_output

    (tmp_path / "old").write_text("x")
    with pytest.raises(OutputExistsError):
        check_output(tmp_path / "old")
    with pytest.raises(MissingFileError):
        check_output(tmp_path / "no" / "out", parents=False)
    assert check_output(tmp_path / "no" / "out") == tmp_path / "no" / "out"


def _export_cmd(out: Path, *args: str) -> list[str]:
    return [*COMMAND, "export", str(out), "--model", "cnn", *args]


def _env(home: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), KERAS_HOME=str(home))


def _loads(path: Path) -> bool:
    return runtime.OnnxModel(path).output_shape == (None, 50)


def test_two_exports_to_one_out_give_one_complete_result(tmp_path):
    out = tmp_path / "cnn.onnx"
    runs = [subprocess.Popen(_export_cmd(out), env=_env(tmp_path), stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(r.wait(timeout=300), r.stderr.read()) for r in runs]
    assert sorted(status for status, _ in results) == [0, 1], results
    (err,) = [e for status, e in results if status == 1]
    assert "exists" in _one_line(err)
    assert _loads(out) and sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["cnn.onnx"]


KILL_POINTS = {
    # a hook run in the exporting process: where it is killed
    "mid-write": "import pathlib; w = pathlib.Path.write_bytes\n"
    "def half(self, data):\n    w(self, data[: len(data) // 2]); os.kill(os.getpid(), 9)\n"
    "pathlib.Path.write_bytes = half",
    "written, before the rename": "from music_tagger.util import files\n"
    "files._publish = lambda *a: os.kill(os.getpid(), 9)",
    "after the rename": "from music_tagger.util import files\np = files._publish\n"
    "def then(*a):\n    p(*a); os.kill(os.getpid(), 9)\nfiles._publish = then",
}


def _killed(hook: str, argv: list[str], env: dict) -> int:
    code = f"import os, sys\n{hook}\nfrom music_tagger.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, timeout=300).returncode


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_during_an_export_leaves_old_or_new_and_no_temporary_after_a_rerun(point, tmp_path):
    out = tmp_path / "cnn.onnx"
    out.write_bytes(runtime._graph_bytes("crnn", "melgram"))  # the old complete export
    old = out.read_bytes()
    status = _killed(KILL_POINTS[point], ["export", str(out), "--model", "cnn", "--overwrite"], _env(tmp_path))
    assert status == -signal.SIGKILL
    assert _loads(out)
    assert out.read_bytes() == (old if point != "after the rename" else runtime._graph_bytes("cnn", "melgram"))
    assert (
        subprocess.run(_export_cmd(out, "--overwrite"), env=_env(tmp_path), capture_output=True, timeout=300).returncode
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["cnn.onnx"]


@pytest.mark.parametrize("point", ["mid-write", "written, before the rename"])
def test_sigkill_during_the_first_cache_write_leaves_no_temporary_after_a_later_run(point, clips, tmp_path):
    env = _env(tmp_path)
    song = str(clips / "song.mp3")
    assert _killed(KILL_POINTS[point], ["tag", song], env) == -signal.SIGKILL
    cache = tmp_path / "music_tagger" / "onnx"
    assert any(p.name.startswith("tmp-") for p in cache.iterdir())
    run = subprocess.run([*COMMAND, "tag", song], env=env, capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert not any(p.name.startswith("tmp-") for p in cache.iterdir())
    assert len(list(cache.iterdir())) == 2  # the graph and its digest


def test_saved_model_overwrite_keeps_the_old_folder_until_the_new_one_is_whole(tmp_path):
    from music_tagger.util.files import atomic_path

    out = tmp_path / "export"
    out.mkdir()
    (out / "saved_model.pb").write_text("old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "saved_model.pb").write_text("half")
        raise RuntimeError("killed")
    assert (out / "saved_model.pb").read_text() == "old"
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "saved_model.pb").write_text("new")
    assert (out / "saved_model.pb").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_what_export_and_tag_cannot_take_is_one_line(tmp_path, clips):
    from music_tagger import export
    from music_tagger.deploy.exports import load_keras_file
    from music_tagger.errors import WeightsError
    from music_tagger.models import CompactCNN, build

    bidirectional = build("crnn", widths=(2, 2, 2, 2, 2), bidirectional=True)
    with pytest.raises(ParameterError, match="a bidirectional CRNN cannot be converted to LiteRT"):
        export(tmp_path / "b.tflite", model=bidirectional, format="litert")
    with pytest.raises(ParameterError, match="the compact convnet, on audio, cannot be exported yet"):
        export(tmp_path / "c.onnx", model=CompactCNN(weights=None))
    (tmp_path / "model.keras").write_bytes(b"not a zip" * 10)
    with pytest.raises(WeightsError, match="not a Keras archive"):
        load_keras_file(tmp_path / "model.keras")
    audio_in = runtime.OnnxModel(export(tmp_path / "a.onnx", model="cnn", input="audio"))
    with pytest.raises(ParameterError, match="tagging feeds"):
        tag([clips / "song.mp3"], model=audio_in)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.onnx", "model.keras"]


def test_compact_features_of_a_store_work_from_another_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")  # prepare keeps the paths it was given: relative here
    assert cli.main(["synth", "data", "--clips", "24", "--duration", "2"]) == 0
    assert (
        cli.main(["prepare", "data", "stores", "--top", "5", "--frames", "32", "--workers", "0", "--splits", "valid"])
        == 0
    )
    monkeypatch.chdir(tmp_path / "b")
    capsys.readouterr()
    assert cli.main(["features", "../a/stores/valid.h5", "--arch", "compact", "--quiet", "--out", "f"]) == 0, (
        capsys.readouterr().err
    )
    assert np.load(tmp_path / "b" / "f.npy").shape[0] == 4
