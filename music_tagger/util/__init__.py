"""Helpers shared by every subpackage: input validators and checked readers (:mod:`.checks`),
atomic file writes and output checks (:mod:`.files`), a lock per output (:mod:`.locks`), lazy
public names (:mod:`.lazy`) and worker processes (:mod:`.workers`)."""
