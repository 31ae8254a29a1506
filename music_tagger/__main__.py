"""``python -m music_tagger``: the ``music-tagger`` command line (see :mod:`music_tagger.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
