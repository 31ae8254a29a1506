"""Helpers shared by every subpackage: input validators (:mod:`.checks`), atomic file
writes (:mod:`.files`) and lazy public names (:mod:`.lazy`)."""
