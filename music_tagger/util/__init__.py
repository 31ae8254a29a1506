"""Helpers shared by every subpackage: input validators and checked readers (:mod:`.checks`),
atomic file writes (:mod:`.files`), lazy public names (:mod:`.lazy`) and worker processes
(:mod:`.workers`)."""
