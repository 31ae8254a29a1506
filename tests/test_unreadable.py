"""One road for an unreadable file: the same one-line message from tag, features, prepare and calibrate.

Each kind of bad file goes through the four library entry points behind ``music-tagger
tag``, ``features``, ``prepare`` and ``calibrate`` (the CLI prints these messages as
they are); the table compares the four messages. About 4 s on 2 cores once the CRNN
and its feature model are built (the CRNN is the session's ``crnn`` fixture).
"""

import warnings

import numpy as np
import pytest
import soundfile as sf

from music_tagger import tag
from music_tagger.datasets.cache import load_store, prepare
from music_tagger.datasets.dataset import read_csv
from music_tagger.embeddings.extract import file_features
from music_tagger.tagging.calibration import calibrate


def _garbage(path):
    path.write_text("not an mp3 at all\n" * 50)


def _truncated(path):
    sf.write(path, 0.1 * np.ones(12000 * 3), 12000)
    path.write_bytes(path.read_bytes()[:44])  # the header says 3 s, no sample follows


#: (an empty file never reaches prepare: read_csv leaves it out with the data set's problems)
BAD = {"garbage.mp3": _garbage, "truncated.wav": _truncated}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "tone.wav"
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * np.arange(12000 * 4) / 12000), 12000)
    return path


def _messages(bad, good, crnn, tmp_path) -> dict:
    """The message each entry point gives for ``bad`` (next to a readable file)."""
    out = {}
    out["tag"] = tag([bad, good], model=crnn, crops=1, workers=1)[0].error
    out["features"] = file_features([bad, good], level="top", workers=1)[2][0][1]
    csv = tmp_path / "labels.csv"
    csv.write_text(f"path,tags,split\n{bad},rock,valid\n{good},rock,valid\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stores = prepare(read_csv(csv), tmp_path / "stores", splits=["valid"], frames=16, workers=1, progress=False)
        out["prepare"] = load_store(stores["valid"]).failures[0]["error"]
        calibrate(csv, tmp_path / "thresholds.json", crnn, crops=1, workers=1)
    said = [str(w.message) for w in caught if "could not be tagged" in str(w.message)]
    out["calibrate"] = said[0].split(", e.g. ", 1)[1] if said else None
    return out


@pytest.mark.parametrize("name", sorted(BAD))
def test_one_unreadable_file_one_message_everywhere(name, good, crnn, tmp_path):
    bad = tmp_path / name
    BAD[name](bad)
    messages = _messages(bad, good, crnn, tmp_path)
    assert all(messages.values()), messages
    assert len(set(messages.values())) == 1, messages
    [message] = set(messages.values())
    assert message.startswith(f"{bad}: ") and "\n" not in message, message
