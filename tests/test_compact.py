"""The compact convnet (Choi et al. 2017), held against the published number and an
independent numpy computation from its HDF5 files (``compact_reference.py``).

Each Keras 1.2 / kapre behaviour of ``music_tagger.models.legacy`` that its features
depend on is pinned by showing that the wrong choice changes them (docs/compact.md
lists the sizes).
"""

import compact_reference as ref
import h5py
import keras
import numpy as np
import pytest

from music_tagger import CompactCNN, features
from music_tagger.embeddings.extract import FeatureExtractor, feature_names
from music_tagger.errors import ParameterError, WeightsError
from music_tagger.models import compact, legacy
from music_tagger.registry import get_file

#: The L2 norm of the 160-d feature of 1100103.clip.npy, from a run of the original code
#: on Keras 1.2.1 with the tensorflow backend (philkuz/music-auto_tagging-keras,
#: compact_cnn/main.py).
PUBLISHED_NORM = 9.916916
SR = 12000


@pytest.fixture(scope="module")
def clip():
    x = np.load(get_file("audio", "1100103"))
    assert x.shape == (compact.N_SAMPLES,) and x.dtype == np.float32
    return x


@pytest.fixture(scope="module")
def generated():
    """Two 29 s crops of 35 s of generated audio: loud tones with noise, and a quiet
    passage with clicks and 2 s of silence (which reaches the 80 dB floor)."""
    rng = np.random.default_rng(19)
    t = np.arange(35 * SR) / SR
    pitch = 220 * 2 ** (np.floor(t * 2) % 12 / 12)
    tones = sum(np.sin(2 * np.pi * k * np.cumsum(pitch) / SR) / k for k in (1, 2, 3))
    y = 0.5 * tones * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t)) + 0.02 * rng.standard_normal(len(t))
    quiet = 0.01 * y[::-1] + 0.2 * (rng.random(len(t)) < 2e-4)
    quiet[10 * SR : 12 * SR] = 0.0
    return np.stack([y[: compact.N_SAMPLES], quiet[6 * SR : 6 * SR + compact.N_SAMPLES]]).astype("float32")


@pytest.fixture(scope="module")
def weights():
    return ref.read_weights(get_file("weights", "compact_msd_layer4"))


@pytest.fixture(scope="module")
def batch(clip, generated):
    return np.concatenate([clip[None], generated])


@pytest.fixture(scope="module")
def expected(batch, weights):
    """The numpy reference's five levels of the batch: clip, loud, quiet."""
    return ref.levels(batch, weights)


@pytest.fixture(scope="module")
def models():
    return {n: CompactCNN(conv_until=n) for n in range(5)}


def _run(model, x):
    """The model's output, eagerly (no tracing: a few clips, many models)."""
    return keras.ops.convert_to_numpy(model(x, training=False))


def _levels(models, x):
    return [_run(models[n], x) for n in range(5)]


def test_the_160d_feature_has_the_published_norm(models, clip):
    feature = np.concatenate([out[0] for out in _levels(models, clip[None])])
    assert feature.shape == (160,)
    assert abs(np.linalg.norm(feature) - PUBLISHED_NORM) < 1e-5


def test_the_numpy_reference_has_the_published_norm(expected):
    assert abs(np.linalg.norm(np.concatenate([level[0] for level in expected])) - PUBLISHED_NORM) < 1e-5


@pytest.mark.parametrize("conv_until", range(5))
def test_each_level_equals_the_numpy_reference(models, batch, expected, conv_until):
    out = _run(models[conv_until], batch)
    np.testing.assert_allclose(out, expected[conv_until], rtol=0, atol=1e-5)


def test_another_length_equals_the_reference(generated, weights):
    x = generated[:, 5000:53001]  # 48,001 samples: an odd number of padded zeros
    model = CompactCNN(conv_until=1, input_shape=(x.shape[1],))
    np.testing.assert_allclose(_run(model, x), ref.levels(x, weights, 1)[1], rtol=0, atol=1e-5)


def test_a_clips_features_do_not_depend_on_its_batch(models, clip, generated):
    alone = _run(models[4], clip[None])[0]
    loud_first = np.concatenate([generated[:1] * 4, clip[None], generated[1:]])
    np.testing.assert_allclose(_run(models[4], loud_first)[1], alone, rtol=0, atol=1e-6)
    x = np.concatenate([clip[None], generated])
    one_by_one = features(x, arch="compact", batch_size=1)
    np.testing.assert_allclose(features(x[::-1], arch="compact", batch_size=3)[::-1], one_by_one, rtol=0, atol=1e-6)


def test_features_give_the_160d_feature_and_each_level(batch, expected):
    np.testing.assert_allclose(features(batch, arch="compact"), np.concatenate(expected, axis=1), rtol=0, atol=1e-5)
    np.testing.assert_allclose(features(batch, arch="compact", level="pool2"), expected[1], rtol=0, atol=1e-5)
    names = feature_names("compact")
    assert len(names) == 160 and names[0] == "pool1_0" and names[-1] == "pool5_31"
    assert feature_names("compact", "top")[:2] == ["gap_0", "gap_1"]
    with pytest.raises(ParameterError, match="level must be one of"):
        features(batch, arch="compact", level="pool6")
    with pytest.raises(ParameterError, match="stores none"):
        features(batch, arch="compact", bn_semantics="variance")
    with pytest.raises(ParameterError, match=r"\(n, 348000\)"):
        features(np.zeros((2, 96, 1366), "float32"), arch="compact")


def test_audio_files_are_decoded_and_resampled_to_12_khz(tmp_path, generated, models):
    import soundfile as sf

    path = tmp_path / "tones.wav"
    sf.write(path, np.repeat(generated[0], 2)[: 2 * compact.N_SAMPLES], 2 * SR)  # 24 kHz
    from music_tagger.audio import load_crops

    crop = load_crops(path, 1, compact.N_SAMPLES, resampler="soxr_hq")
    assert crop.shape == (1, compact.N_SAMPLES)
    extractor = FeatureExtractor(arch="compact", level="top", resampler="soxr_hq").fit()
    assert extractor.n_features_out_ == 32
    np.testing.assert_allclose(extractor.transform([path]), _run(models[4], crop), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- legacy


def test_batchnorm_mode2_uses_each_clips_statistics(clip, generated, weights, expected):
    pair = np.stack([clip, generated[1]])
    batch_stats = ref.levels(pair, weights, bn="batch")
    assert np.abs(batch_stats[4][0] - expected[4][0]).max() > 0.1  # measured 0.76 (level 4)
    running = ref.levels(clip[None], weights, 0, bn="running")  # the stored 0 and 1
    assert np.abs(running[0]).max() > 50  # 255 at level 0 (faithful: below 3)
    layer = legacy.mode2_batch_norm("bn")
    assert isinstance(layer, keras.layers.GroupNormalization) and layer.groups == -1


def test_batchnorm_epsilon_is_keras_1_2s_inside_the_root_of_the_variance(clip, weights):
    def norm(**options):
        return np.linalg.norm(np.concatenate(ref.levels(clip[None], weights, **options), axis=1))

    assert legacy.BN_MODE2_EPSILON == 1e-3
    assert abs(norm(bn_eps=1e-5) - PUBLISHED_NORM) > 1.5e-5  # Keras 1.1's epsilon: 9.916939
    assert abs(norm(bn_std_eps=True) - PUBLISHED_NORM) > 1e-4  # x / (std + eps): 9.916184


def test_kapre_decibels_are_per_clip(clip, generated, weights, expected):
    power = np.array([[[1.0, 0.1, 1e-9]], [[1e-3, 1e-4, 1e-12]]], "float32")  # amin 1e-10
    decibels = np.asarray(legacy.kapre_decibel(power))
    np.testing.assert_allclose(decibels, [[[0, -10, -80]], [[0, -10, -70]]], atol=1e-4)
    pair = np.stack([clip, generated[1]])
    batch_max = ref.levels(pair, weights, db_max="batch")
    assert np.abs(batch_max[4][1] - expected[4][2]).max() > 0.1  # the quiet clip: 0.47
    absolute = ref.levels(clip[None], weights, db_max=None)
    assert np.abs(absolute[4][0] - expected[4][0]).max() > 0.05  # 0.23


def test_tensorflow_kernels_are_not_flipped(clip, weights, expected):
    flipped = ref.levels(clip[None], weights, flip=True)
    assert np.abs(flipped[4][0] - expected[4][0]).max() > 0.1  # 0.63 (any level)


def test_kapre_stft_borders_are_tensorflows_same_split(clip, weights, expected):
    assert legacy.kapre_same_padding(348000, 512, 256) == (208, 208)
    assert legacy.kapre_same_padding(48001, 512, 256) == (191, 192)
    centred = ref.levels(clip[None], weights, pad="center")  # librosa's 256 each side
    assert np.abs(centred[4][0] - expected[4][0]).max() > 0.05  # 0.135


def test_the_stored_front_end_is_kapres_hann_dft_and_slaney_mel(weights):
    built = CompactCNN(weights=None, conv_until=0).get_layer("melgram")
    stored = [np.asarray(a)[:, :, 0, :] if a.ndim == 4 else a for a in weights[0]]
    for ours, theirs in zip(built.get_weights(), stored):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_the_five_files_share_their_blocks():
    full = compact.read_compact_file(get_file("weights", "compact_msd_layer4"))
    for n in range(4):
        part = compact.read_compact_file(get_file("weights", f"compact_msd_layer{n}"))
        assert sorted(part) == sorted(["melgram"] + [f"{k}{i}" for i in range(1, n + 2) for k in ("conv", "bn")])
        for name, arrays in part.items():
            assert all(np.array_equal(a, b) for a, b in zip(arrays, full[name]))


def test_clear_errors_before_building(tmp_path):
    with pytest.raises(ParameterError, match="no tag layer"):
        CompactCNN(include_top=True)
    assert CompactCNN(include_top=True, weights=None, classes=7, conv_until=0).output_shape == (None, 7)
    with pytest.raises(ParameterError, match="conv_until must be"):
        CompactCNN(conv_until=5)
    with pytest.raises(ParameterError, match="327425 samples"):
        CompactCNN(input_shape=(12000,))
    with pytest.raises(ParameterError, match="weights must be"):
        CompactCNN(weights="imagenet")
    theano = tmp_path / "weights_layer0_theano.hdf5"
    with h5py.File(theano, "w") as f:
        f.create_group("melgram").create_dataset("Variable", data=np.zeros(1))
        f.create_group("ConvBNEluDr")
    with pytest.raises(WeightsError, match="tensorflow-backend"):
        CompactCNN(weights=theano, conv_until=0)


def test_a_saved_model_loads_back_with_the_same_features(tmp_path, models, clip):
    path = tmp_path / "compact.keras"
    models[1].save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(_run(loaded, clip[None]), _run(models[1], clip[None]))


def test_the_command_line_writes_the_160d_features(tmp_path, generated, monkeypatch):
    import types

    import soundfile as sf

    from music_tagger import cli
    from music_tagger.datasets import cache
    from music_tagger.embeddings.files import read_features

    wav = tmp_path / "a.wav"
    sf.write(wav, generated[0], SR)
    assert cli.main(["features", str(wav), "--arch", "compact", "--out", str(tmp_path / "feats"), "--quiet"]) == 0
    x, rows, meta, y = read_features(tmp_path / "feats")
    assert x.shape == (1, 160) and meta["arch"] == "compact" and y is None
    # a folder of stores: the audio files each store was prepared from, with its labels
    (tmp_path / "stores").mkdir()
    (tmp_path / "stores" / "train.h5").touch()
    store = types.SimpleNamespace(split="train", ids=["a"], paths=[str(wav)], y=np.array([[1, 0]], np.uint8),
                                  tags=["loud", "quiet"], settings={"resampler": "soxr_hq"})  # fmt: skip
    monkeypatch.setattr(cache, "load_store", lambda path: store)
    assert cli.main(["features", str(tmp_path / "stores"), "--arch", "compact", "--level", "top",
                     "--out", str(tmp_path / "split"), "--quiet"]) == 0  # fmt: skip
    x, rows, meta, y = read_features(tmp_path / "split" / "train")
    assert x.shape == (1, 32) and y.tolist() == [[1, 0]] and meta["resampler"] == "soxr_hq"
