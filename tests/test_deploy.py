"""Exports (ONNX, SavedModel, LiteRT) and the TensorFlow-free tagger score like Keras.

Every comparison is against the Keras model of :mod:`music_tagger.models` on the same
input: the four original spectrograms, crops of generated audio, and the published
scores of the original README.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import start_python

from music_tagger import TAGS, audio
from music_tagger.errors import OutputExistsError, ParameterError, WeightsError
from music_tagger.registry import example_names
from music_tagger.vocabulary import default_runtime

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from music_tagger.deploy import export  # noqa: E402
from music_tagger.runtime.sessions import OnnxModel, cached_onnx, pretrained  # noqa: E402

CLIPS = example_names()
MELGRAM_TOL = 2e-5
AUDIO_TOL = 1e-4
PUBLISHED_TOL = 0.0005


@pytest.fixture(scope="module")
def crops():
    """Four 29.12 s crops of generated audio at 12 kHz: tones, noise, silence and a click."""
    rng = np.random.default_rng(7)
    t = np.arange(audio.N_SAMPLES) / audio.SR
    tones = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 0.5 * t))
    noise = 0.2 * rng.standard_normal(audio.N_SAMPLES)
    quiet = np.zeros(audio.N_SAMPLES)
    quiet[5000:9000] = 1e-3 * rng.standard_normal(4000)
    chirp = 0.5 * np.sin(2 * np.pi * (100 + 2000 * t / t[-1]) * t) + 0.05 * rng.standard_normal(len(t))
    return np.stack([tones, noise, quiet, chirp]).astype(np.float32)


@pytest.fixture(scope="module")
def crop_melgrams(crops):
    return np.stack([audio.compute_melgram_from_array(y, audio.SR) for y in crops])[..., None]


@pytest.fixture(scope="module")
def keras_models():
    from music_tagger import CNN, CRNN

    return {"crnn": CRNN(weights="msd"), "cnn": CNN(weights="msd")}


def _max_diff(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


# --------------------------------------------------------------------------- ONNX


@pytest.mark.parametrize("name", ["crnn", "cnn"])
def test_onnx_melgram_scores_equal_keras(name, tmp_path, reference_melgrams, crop_melgrams, keras_models):
    path = export(tmp_path / f"{name}.onnx", model=name)
    onnx_model = OnnxModel(path)
    assert onnx_model.input_shape == (None, 96, 1366, 1) and onnx_model.output_shape == (None, 50)
    for x in (reference_melgrams, crop_melgrams):
        expected = keras_models[name].predict_on_batch(x)
        assert _max_diff(onnx_model.predict_on_batch(x), expected) <= MELGRAM_TOL
    # one clip at a time gives the same as in a batch
    assert (
        _max_diff(
            onnx_model.predict_on_batch(reference_melgrams[1:2])[0], onnx_model.predict_on_batch(reference_melgrams)[1]
        )
        <= 1e-6
    )


def test_onnx_runtime_reproduces_the_40_published_scores(reference_melgrams, published_scores):
    scores = pretrained("crnn").predict_on_batch(reference_melgrams)
    errors = [abs(float(row[TAGS.index(tag)]) - value)
              for clip, row in zip(CLIPS, scores) for tag, value in published_scores[clip]]  # fmt: skip
    assert len(errors) == 40
    assert max(errors) <= PUBLISHED_TOL, f"max abs error {max(errors):.6f}"


def test_onnx_scores_far_below_the_sigmoids_floor_are_not_zero(reference_melgrams, keras_models):
    # the CNN's logits of 80s, punk, hard rock and heavy metal reach -43 on every clip:
    # onnxruntime's Sigmoid gave exactly 0 from -18 on, Keras gives 1e-19
    expected = keras_models["cnn"].predict_on_batch(reference_melgrams)
    got = pretrained("cnn").predict_on_batch(reference_melgrams)
    tiny = expected < 1e-8
    assert tiny.sum() >= 4
    assert (got[tiny] > 0).all()
    np.testing.assert_allclose(got[tiny], expected[tiny], rtol=1e-2)


@pytest.mark.parametrize("name", ["crnn", "cnn"])
def test_onnx_audio_input_equals_the_front_end_and_keras(name, tmp_path, crops, crop_melgrams, keras_models):
    model = OnnxModel(export(tmp_path / "audio.onnx", model=name, input="audio"))
    assert model.input_shape == (None, audio.N_SAMPLES)
    expected = keras_models[name].predict_on_batch(crop_melgrams)
    assert _max_diff(model.predict_on_batch(crops), expected) <= AUDIO_TOL


@pytest.mark.parametrize("arch", ["k1c2", "k2c1", "k2c2"])
def test_a_trained_model_of_each_structure_exports_to_onnx(arch, tmp_path, crop_melgrams):
    import keras

    from music_tagger.models import build

    keras.utils.set_random_seed(1)
    model = build(arch, n_params=100_000, classes=7)
    for layer in model.layers:  # statistics as after training, not the initial 0 / 1
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            rng = np.random.default_rng(len(gamma))
            layer.set_weights([gamma, beta, rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2, var.shape)])
    onnx_model = OnnxModel(export(tmp_path / f"{arch}.onnx", model=model))
    assert onnx_model.output_shape == (None, 7)
    assert _max_diff(onnx_model.predict_on_batch(crop_melgrams), model.predict_on_batch(crop_melgrams)) <= MELGRAM_TOL


def test_export_checks_its_arguments(tmp_path):
    with pytest.raises(ParameterError, match="format"):
        export(tmp_path / "x", format="tflite")
    with pytest.raises(ParameterError, match="input"):
        export(tmp_path / "x", input="wav")
    with pytest.raises(ParameterError, match="model"):
        export(tmp_path / "x", model="vgg")
    (tmp_path / "x.onnx").write_bytes(b"")
    with pytest.raises(OutputExistsError):
        export(tmp_path / "x.onnx")


def test_export_reads_a_keras_file_only_once_the_output_is_checked(tmp_path, monkeypatch):
    from music_tagger.deploy import exports
    from music_tagger.errors import MissingFileError

    with pytest.raises(MissingFileError, match="no model file at"):
        export(tmp_path / "y.onnx", model=str(tmp_path / "nothing.keras"))
    (tmp_path / "x.onnx").write_bytes(b"")
    monkeypatch.setattr(exports, "load_keras_file", lambda path: pytest.fail("model loaded"))
    with pytest.raises(OutputExistsError):
        export(tmp_path / "x.onnx", model=tmp_path / "model.keras")


# --------------------------------------------------------------------------- SavedModel

_LOAD_SAVED_MODEL = """
import json, sys
import numpy as np
import tensorflow as tf
folder, melgram_file, audio_file = sys.argv[1:]
loaded = tf.saved_model.load(folder)
out = {name: loaded.signatures[name](**{key: tf.constant(np.load(f))})["scores"].numpy().tolist()
       for name, key, f in [("serve_melgram", "melgram", melgram_file), ("serve_audio", "audio", audio_file),
                            ("serving_default", "audio", audio_file)]}
out["music_tagger_imported"] = any(m.startswith("music_tagger") for m in sys.modules)
print(json.dumps(out))
"""


@pytest.mark.slow
def test_saved_model_loads_without_music_tagger_and_scores_equal(
    tmp_path, reference_melgrams, crops, crop_melgrams, keras_models
):
    folder = export(tmp_path / "crnn_saved", model="crnn", format="saved_model", input="audio")
    np.save(tmp_path / "melgram.npy", reference_melgrams)
    np.save(tmp_path / "audio.npy", crops)
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_SAVED_MODEL, folder, tmp_path / "melgram.npy", tmp_path / "audio.npy"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["music_tagger_imported"] is False
    assert _max_diff(out["serve_melgram"], keras_models["crnn"].predict_on_batch(reference_melgrams)) <= MELGRAM_TOL
    expected = keras_models["crnn"].predict_on_batch(crop_melgrams)
    assert _max_diff(out["serve_audio"], expected) <= AUDIO_TOL
    assert out["serving_default"] == out["serve_audio"]  # input="audio" is the default signature


# --------------------------------------------------------------------------- the TF-free tagger


@pytest.fixture(scope="module")
def folder(tmp_path_factory, crops):
    """A folder of three generated tracks (one of 70 s, two of 10 s) and a text file."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("tracks")
    rng = np.random.default_rng(3)
    long = np.concatenate([crops[3], crops[0], rng.uniform(-0.2, 0.2, 12000 * 12).astype(np.float32)])
    sf.write(root / "a_long.wav", long, audio.SR, subtype="FLOAT")
    sf.write(root / "b_noise.wav", crops[1][: 10 * 22050], 22050, subtype="FLOAT")
    (root / "sub").mkdir()
    sf.write(root / "sub" / "c_tones.flac", crops[0][: 10 * 44100] * 0.5, 44100)
    (root / "notes.txt").write_text("not audio")
    return root


def test_tag_runtime_onnx_over_a_folder_equals_the_tf_runtime(folder):
    from music_tagger import tag

    options = dict(top_n=None, workers=2, taggram=True, hop=10.0)
    tf_results = tag(folder, runtime="tf", **options)
    onnx_results = tag(folder, runtime="onnx", **options)
    assert [r.path for r in tf_results] == [r.path for r in onnx_results] and len(tf_results) == 3
    for a, b in zip(tf_results, onnx_results):
        assert a.ok and b.ok and a.n_crops == b.n_crops
        assert _max_diff(a.scores, b.scores) <= MELGRAM_TOL
        assert _max_diff(a.taggram.scores, b.taggram.scores) <= MELGRAM_TOL
    assert tf_results[0].n_crops > 1  # the long track has several crops


_TAG_WITHOUT_TF = """
import json, sys
from music_tagger.cli import main
code = main(["tag", "--format", "json", "--crops", "2", *sys.argv[1:]])
print(json.dumps({"code": code, "heavy": sorted(m for m in sys.modules
                  if m.split(".")[0] in ("tensorflow", "keras", "librosa"))}))
"""


def test_the_onnx_runtime_never_imports_tensorflow_or_keras(folder, tmp_path):
    def run(*runtime: str) -> tuple[dict, list]:
        proc = start_python(
            _TAG_WITHOUT_TF, *runtime, folder / "a_long.wav", folder / "b_noise.wav",
            stdout=subprocess.PIPE, env={"KERAS_HOME": str(tmp_path)},
        )  # fmt: skip
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        lines = out.strip().splitlines()
        return json.loads(lines[-1]), json.loads("\n".join(lines[:-1]))

    first, records = run("--runtime", "onnx")  # builds the ONNX file (its mel filterbank comes from librosa)
    assert first["code"] == 0 and [m for m in first["heavy"] if not m.startswith("librosa")] == []
    assert [len(r["tags"]) for r in records] == [10, 10]
    # the ONNX file was built on first use into the cache, named by the weights' sha256
    from music_tagger.registry import registry

    sha = registry()["weights"]["crnn_msd_theano"]["sha256"]
    assert [p.name.startswith(f"crnn-{sha}") for p in (tmp_path / "music_tagger" / "onnx").glob("*.onnx")] == [True]
    second, again = run()  # the default runtime, from the cache: not even librosa
    assert second == {"code": 0, "heavy": []} and again == records


def test_reading_samples_instead_of_log_mels_gives_the_same_crops(folder):
    """The onnx runtime's workers send samples; their log-mels are the workers' own."""
    from music_tagger.audio.reading import iter_melgrams

    for path in (folder / "a_long.wav", folder / "sub" / "c_tones.flac"):
        mels = list(iter_melgrams(path, 3, resampler="soxr_hq", chunk=2))
        samples = list(iter_melgrams(path, 3, resampler="soxr_hq", chunk=2, input="audio"))
        assert [m[0] for m in mels] == [s[0] for s in samples]
        for (_, x, at, n), (_, y, at2, n2) in zip(mels, samples):
            assert y.shape == (len(x), audio.N_SAMPLES) and n == n2 and (at == at2).all()
            np.testing.assert_array_equal(np.stack([audio.log_melgram(c) for c in y]), x)


def test_the_cached_onnx_file_is_built_once(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    first = cached_onnx("cnn")
    stamp = first.stat().st_mtime_ns
    assert cached_onnx("cnn") == first and first.stat().st_mtime_ns == stamp
    assert first.parent == tmp_path / "music_tagger" / "onnx"


def test_a_batch_run_in_parts_gives_the_scores_of_the_whole(reference_melgrams):
    from music_tagger.runtime.sessions import OnnxModel

    x = np.concatenate([reference_melgrams, reference_melgrams[:1]])  # 5 spectrograms: parts of 2, 2 and 1
    whole = OnnxModel(cached_onnx("crnn")).predict_on_batch(x)
    parts = OnnxModel(cached_onnx("crnn"), max_batch=2).predict_on_batch(x)
    assert parts.shape == (5, 50) and _max_diff(parts, whole) <= 1e-6
    with pytest.raises(ParameterError, match="max_batch"):
        OnnxModel(cached_onnx("crnn"), max_batch=0)


def test_a_damaged_cached_file_is_built_again_and_a_bad_file_is_one_line(tmp_path, monkeypatch):
    from music_tagger.runtime import sessions as runtime

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    path = cached_onnx("cnn")
    path.write_bytes(path.read_bytes()[:1000])  # truncated after it was written
    runtime.pretrained.cache_clear()
    model = runtime.pretrained("cnn")
    assert model.output_shape == (None, 50) and path.stat().st_size > 1000
    for data in (b"", b"not onnx at all" * 100):
        (tmp_path / "bad.onnx").write_bytes(data)
        with pytest.raises(WeightsError, match="bad.onnx: onnxruntime cannot load it"):
            runtime.OnnxModel(tmp_path / "bad.onnx")
    with pytest.raises(WeightsError, match="missing.onnx"):
        runtime.OnnxModel(tmp_path / "missing.onnx")

    # a cache folder that cannot be written (a read-only home): the graph is built in memory
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "read-only"))  # nothing cached there
    monkeypatch.setattr(runtime, "_write_cached", read_only)
    runtime.pretrained.cache_clear()
    assert runtime.pretrained("cnn").output_shape == (None, 50)
    assert not (tmp_path / "read-only" / "music_tagger" / "onnx").exists()
    runtime.pretrained.cache_clear()


def test_runtime_arguments_are_checked():
    from music_tagger import tag
    from music_tagger.models import build

    with pytest.raises(ParameterError, match="runtime"):
        tag("x.mp3", runtime="torch")
    with pytest.raises(ParameterError, match="export"):
        tag("x.mp3", model=build("crnn", widths=(2, 2, 2, 2, 2)), runtime="onnx")


def test_the_pretrained_taggers_run_on_onnx_by_default_when_it_is_installed(monkeypatch):
    import importlib.util

    from music_tagger.models import build
    from music_tagger.tagging import networks

    keras_model = build("crnn", widths=(2, 2, 2, 2, 2))
    assert networks.check_runtime(None, None) == networks.check_runtime("cnn", None) == "onnx"
    assert networks.check_runtime(keras_model, None) == "tf"  # a model object runs as it is
    assert networks.check_runtime("crnn", "tf") == "tf"
    # one default for every runtime parameter: get_model's is tag's
    assert networks.get_model("crnn") is networks.get_model("crnn", "onnx") is not networks.get_model("crnn", "tf")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert networks.check_runtime(None, None) == "tf"  # without the extra: TensorFlow
    assert default_runtime() == networks.resolve_runtime(None, "crnn") == "tf"


# --------------------------------------------------------------------------- LiteRT


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
@pytest.mark.parametrize("input", ["melgram", "audio"])
def test_litert_uses_builtin_ops_only_and_scores_equal(
    input, tmp_path, reference_melgrams, crops, crop_melgrams, keras_models
):
    tf = pytest.importorskip("tensorflow")
    from music_tagger.deploy.litert import flex_ops

    path = export(tmp_path / "crnn.tflite", model="crnn", format="litert", input=input)
    data = path.read_bytes()
    assert flex_ops(data) == [] and b"Flex" not in data
    interpreter = tf.lite.Interpreter(model_content=data)
    x, expected = (reference_melgrams, keras_models["crnn"].predict_on_batch(reference_melgrams)) if input == "melgram" else (
        crops, keras_models["crnn"].predict_on_batch(crop_melgrams))  # fmt: skip
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    assert _max_diff(interpreter.get_tensor(out["index"]), expected) <= AUDIO_TOL


def test_flex_ops_finds_a_flex_op():
    tf = pytest.importorskip("tensorflow")
    from music_tagger.deploy.litert import flex_ops

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def lengths(s):
        return tf.strings.length(tf.strings.regex_replace(s, "a", "bb"))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([lengths.get_concrete_function()], lengths)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    assert flex_ops(converter.convert()) != []


@pytest.mark.parametrize("variant", ["theano", "tensorflow"])
def test_the_keras_free_reader_gives_the_arrays_legacy_loads(variant, keras_models):
    """models.keras1.read_msd_arrays (no Keras) = what load_legacy_weights set into the model."""
    from music_tagger.models.keras1 import read_msd_arrays
    from music_tagger.registry import get_file

    for name, arch in (("crnn", "crnn"), ("cnn", "k2c2")):
        arrays, epsilon = read_msd_arrays(get_file("weights", f"{name}_msd_{variant}"), arch)
        model = keras_models[name]
        assert sorted(arrays) == sorted(layer.name for layer in model.layers if layer.weights)
        for layer, stored in arrays.items():
            for a, b in zip(stored, model.get_layer(layer).get_weights()):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 if variant == "tensorflow" and name == "cnn" else 0)
        assert epsilon == model.get_layer("bn1").epsilon


def test_the_export_command_writes_a_saved_keras_model(tmp_path, crop_melgrams, capsys):
    """``music-tagger export OUT --model run/model.keras``: a train/finetune result."""
    import keras

    from music_tagger.cli import main
    from music_tagger.models import build

    keras.utils.set_random_seed(2)
    model = build("crnn", widths=(8, 8, 8, 8, 4), classes=5)
    model.save(tmp_path / "model.keras")
    out = tmp_path / "mine.onnx"
    assert main(["export", str(out), "--model", str(tmp_path / "model.keras")]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    scores = OnnxModel(out).predict_on_batch(crop_melgrams)
    assert scores.shape == (4, 5) and _max_diff(scores, model.predict_on_batch(crop_melgrams)) <= MELGRAM_TOL
    assert main(["export", str(out)]) == 1  # exists: one error line, no traceback
    assert "exists" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "x.onnx"), "--model", "nothing.keras"]) == 1
