"""Training and evaluation: the training loop, fine-tuning, the paper's experiment grid.

===================  =============================================================
module               what lives there
===================  =============================================================
:mod:`.loop`         :func:`train`: resumable training on a store
:mod:`.transfer`     :func:`finetune`: the pretrained networks on new tags
:mod:`.distribute`   device strategies (CPU, GPUs, TPU)
:mod:`.evaluation`   per-tag ROC-AUC with scikit-learn
:mod:`.experiment`   the paper's grid of architectures and budgets
:mod:`.figures`      the paper's figures from the grid's results
===================  =============================================================
"""

from ..util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "train": "loop", "finetune": "transfer", "evaluate": "evaluation", "evaluate_model": "evaluation",
    "run_experiment": "experiment", "draw_figures": "figures",
})  # fmt: skip
