"""Helpers shared by every subpackage: input validators (:mod:`.checks`), atomic file
writes and output checks (:mod:`.files`), a lock per output (:mod:`.locks`) and lazy
public names (:mod:`.lazy`)."""
