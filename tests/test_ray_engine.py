"""The Ray engine on a local Ray (2 CPUs) equals the local engine (needs the ray extra)."""

import numpy as np
import pytest
import soundfile as sf

ray = pytest.importorskip("ray", reason='the Ray engine needs pip install "music_tagger[ray]"')

from music_tagger import tag  # noqa: E402
from music_tagger.tagging.ray_engine import tag_ray  # noqa: E402

#: trains networks or prepares stores: left out of the contributor's `-m "not slow"` run
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_engine_equals_the_local_engine(local_ray, tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(tmp_path / f"clip{i}.wav", 0.1 * rng.standard_normal(12000 * (3 + 20 * i)), 12000)
    (tmp_path / "broken.wav").write_text("not audio")
    local = tag(tmp_path, crops=2, top_n=5, workers=0)
    remote = tag_ray(tmp_path, crops=2, top_n=5, workers=1, files_per_batch=2)
    assert [r.path for r in remote] == [r.path for r in local]
    for a, b in zip(local, remote):
        assert (a.error is None) == (b.error is None)
        if a.error is None:
            assert a.n_crops == b.n_crops
            np.testing.assert_allclose(b.scores, a.scores, atol=1e-6, rtol=0)
            assert [t for t, _ in b.top] == [t for t, _ in a.top]
        else:
            assert b.error == a.error


def test_workers_is_the_one_word_and_actors_its_old_name():
    from music_tagger.errors import ParameterError
    from music_tagger.tagging.ray_engine import iter_tag_ray

    with pytest.raises(ParameterError, match="give workers, not also actors"):
        iter_tag_ray(["x.wav"], workers=2, actors=2)
    with pytest.warns(DeprecationWarning, match="now workers="), pytest.raises(ParameterError, match="workers"):
        iter_tag_ray(["x.wav"], actors=0)  # the old name still reaches the one check
