"""The ``music-tagger`` command line: ``tag``, its formats and exit codes.

Most tests call :func:`music_tagger.cli.main` in-process (the CRNN is built once and
cached); one runs ``python -m music_tagger`` in a subprocess to check that stdout
holds only the JSON while TensorFlow's logging stays off it.
"""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from music_tagger import cli
from music_tagger.registry import example_names

CLIPS = example_names()

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def bad_files(tmp_path):
    fake = tmp_path / "renamed_text.mp3"
    fake.write_text("not an mp3 at all\n" * 50)
    return [str(tmp_path / "missing.mp3"), str(fake)]


def run_main(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- usage


def test_help_explains_every_option(capsys):
    code, out, _ = run_main(capsys, "tag", "--help")
    assert code == 0
    for option in ["--top", "--model", "--format", "--crops", "--faithful", "--examples",
                   "--batch-size", "--resampler", "--no-progress", "Exit status"]:  # fmt: skip
        assert option in out
    code, out, _ = run_main(capsys, "--help")
    assert code == 0 and "tag" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "required"),
        (["tag"], "at least one PATH"),
        (["tag", "a.mp3", "--top", "0"], "positive integer"),
        (["tag", "a.mp3", "--format", "xml"], "invalid choice"),
        (["tag", "a.mp3", "--model", "vgg"], "invalid choice"),
        (["tag", "a.mp3", "--faithful", "--crops", "4"], "single centre crop"),
        (["tag", "a.mp3", "--bogus"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and out == "" and message in err


def test_subcommands_are_registered_as_parser_and_run_pairs():
    assert (cli.tagging.add_tag_parser, cli.tagging.run_tag) in cli.SUBCOMMANDS
    parser = cli.build_parser()
    args = parser.parse_args(["tag", "x.mp3"])
    assert args._run is cli.tagging.run_tag


def test_each_command_group_is_named_after_the_subpackage_it_serves():
    import importlib
    import pkgutil

    groups = {m.name for m in pkgutil.iter_modules(cli.__path__)} - {"common"}
    assert groups == {run.__module__.rsplit(".", 1)[1] for _, run in cli.SUBCOMMANDS}
    for name in groups:  # a subpackage of that name, whose library the commands call
        assert importlib.util.find_spec(f"music_tagger.{name}").submodule_search_locations, name


# --------------------------------------------------------------------------- tag


@pytest.mark.slow
@pytest.mark.reference
def test_json_of_the_reference_folder(crnn, capsys, reference_data):
    # the acceptance line: music-tagger tag <data>/ --top 5 --format json
    code, out, _ = run_main(capsys, "tag", f"{reference_data}/", "--top", "5", "--format", "json")
    assert code == 0
    entries = json.loads(out)
    assert [Path(e["path"]).stem for e in entries] == sorted(CLIPS)
    for e in entries:
        assert set(e) == {"path", "tags", "error"} and e["error"] is None
        assert len(e["tags"]) == 5
        assert all(isinstance(t, str) and 0 < s < 1 for t, s in e["tags"])
        scores = [s for _, s in e["tags"]]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.reference
def test_bad_files_are_reported_and_the_rest_still_tagged(crnn, capsys, reference_data, bad_files):
    code, out, err = run_main(
        capsys, "tag", str(reference_data), *bad_files, "--top", "5", "--format", "json",
        "--crops", "1",
    )  # fmt: skip
    assert code == 1
    entries = json.loads(out)
    assert len(entries) == 6
    assert all(e["error"] is None and len(e["tags"]) == 5 for e in entries[:4])
    for e, path in zip(entries[4:], bad_files):
        assert e["path"] == path and e["tags"] == [] and path in e["error"]
        assert path in err  # also on stderr


@pytest.mark.reference
def test_csv_and_table_formats(crnn, capsys, reference_data, bad_files):
    clip = str(reference_data / "bensound-cute.mp3")
    code, out, _ = run_main(capsys, "tag", clip, bad_files[0], "--faithful", "--top", "3", "--format", "csv")
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["path", "rank", "tag", "score", "error"]
    assert [(r["rank"], r["tag"]) for r in rows[:3]] == [
        ("1", "jazz"), ("2", "instrumental"), ("3", "folk"),
    ]  # fmt: skip
    assert abs(float(rows[0]["score"]) - 0.444) <= 0.0006
    assert rows[3]["path"] == bad_files[0] and rows[3]["tag"] == "" and rows[3]["error"]

    code, out, _ = run_main(capsys, "tag", clip, "--faithful", "--top", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == clip
    assert lines[1].split() == ["1.", "jazz", "0.444"]
    assert lines[2].split() == ["2.", "instrumental", "0.151"]


@pytest.mark.reference
def test_examples_flag_tags_the_four_original_clips(crnn, capsys):
    code, out, _ = run_main(capsys, "tag", "--examples", "--faithful", "--top", "1", "--format", "json")
    assert code == 0
    entries = json.loads(out)
    top = {Path(e["path"]).stem: e["tags"][0][0] for e in entries}
    assert top == {
        "bensound-actionable": "jazz",
        "bensound-cute": "jazz",
        "bensound-dubstep": "Hip-Hop",
        "bensound-thejazzpiano": "jazz",
    }


@pytest.mark.reference
@pytest.mark.slow
def test_module_entry_point_keeps_stdout_clean(reference_data, bad_files):
    """A fresh process: stdout holds only the JSON, TensorFlow logs stay off it."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    clip = str(reference_data / "bensound-dubstep.mp3")
    proc = subprocess.run(
        [sys.executable, "-m", "music_tagger", "tag", clip, bad_files[1],
         "--faithful", "--top", "2", "--format", "json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    entries = json.loads(proc.stdout)
    assert [t for t, _ in entries[0]["tags"]] == ["Hip-Hop", "rock"]
    assert entries[1]["error"] and bad_files[1] in proc.stderr


@pytest.mark.reference
@pytest.mark.slow
def test_one_file_in_a_fresh_process_is_read_while_the_model_loads(reference_data):
    """One file, default workers: read in one worker process, forked before
    TensorFlow loads, while the main process loads the model; the same tags."""
    clip = str(reference_data / "bensound-dubstep.mp3")
    proc = subprocess.run(
        [sys.executable, "-m", "music_tagger", "tag", clip, "--faithful", "--top", "2",
         "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [t for t, _ in json.loads(proc.stdout)[0]["tags"]] == ["Hip-Hop", "rock"]


def test_console_script_is_installed():
    exe = shutil.which("music-tagger", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("music-tagger console script not installed (pip install -e .)")
    proc = subprocess.run([exe, "tag", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--faithful" in proc.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["prepare", "{tmp}/no-such-mtt", "{tmp}/features"], "no-such-mtt"),
        (["train", "{tmp}/no-features", "{tmp}/run"], "no-features"),
        (["evaluate", "{tmp}/model.keras", "{tmp}/test.h5"], "no feature store"),
        (["figures", "{tmp}/no-runs", "--out", "{tmp}/figs"], "no-runs"),
    ],
)
def test_a_missing_input_is_one_error_line_and_exit_1(capsys, tmp_path, argv, message):
    code = cli.main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 1
    assert message in err and "Traceback" not in err


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("debug", [False, True])
def test_package_errors_are_one_line_and_bugs_show_their_traceback(capsys, monkeypatch, tmp_path, debug):
    from music_tagger.datasets import synth
    from music_tagger.errors import DataError

    def fails(error):
        def make_mtt_like(*args, **kwargs):
            raise error

        return make_mtt_like

    extra = ["--debug"] if debug else []
    monkeypatch.setattr(synth, "make_mtt_like", fails(DataError("the labels are inconsistent")))
    if debug:  # --debug: the traceback of everything
        with pytest.raises(DataError):
            cli.main(["synth", str(tmp_path), *extra])
    else:
        code, out, err = run_main(capsys, "synth", str(tmp_path))
        assert (code, out) == (1, "")
        assert err == "music-tagger: error: the labels are inconsistent\n"
    # a ValueError that is not ours is a bug: never hidden behind one line
    monkeypatch.setattr(synth, "make_mtt_like", fails(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["synth", str(tmp_path), *extra])
