#!/usr/bin/env bash
# The reference tagger of benchmarks/quality.py, in a virtual environment of its own:
# musicnn 0.1.0 (Pons & Serra 2019, MSD and MagnaTagATune models) is never a
# dependency of music_tagger. Installed without its pinned, unresolvable dependencies
# (tensorflow<1.15), against today's TensorFlow and the tf-keras that matches it
# (musicnn builds its graphs with tf.compat.v1.layers). Its log-mel overflows in
# float16 with today's numpy: benchmarks/quality_musicnn.py patches that at run time,
# nothing in site-packages is edited.
#
#   bash benchmarks/setup_musicnn.sh [VENV]        # default /work/venv-musicnn
set -euo pipefail
VENV=${1:-/work/venv-musicnn}
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
TF=${TF_VERSION:-2.21.0}  # the TensorFlow the benchmark was run with
"$VENV/bin/pip" install -q "tensorflow==$TF" "tf-keras~=${TF%.*}.0" librosa soundfile
"$VENV/bin/pip" install -q --no-deps musicnn==0.1.0
TF_USE_LEGACY_KERAS=1 "$VENV/bin/python" -c "import musicnn, tensorflow as tf; print('musicnn ready, TensorFlow', tf.__version__)"
