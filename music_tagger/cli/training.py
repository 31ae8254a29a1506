"""``music-tagger train``, ``finetune``, ``evaluate``, ``experiment`` and ``figures``: the commands of :mod:`music_tagger.training`."""

import argparse
import contextlib
import sys

from ..errors import ParameterError, UsageError
from ..models.architectures import ARCHS, BUDGET_SIZES, parse_budgets
from ..vocabulary import BN_PUBLISHED, BN_READINGS, HEAD_FITS, LEVELS, RECIPES, STAGE2_FROM
from .common import HelpFormatter, positive_int_arg


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by train and finetune."""
    p.add_argument("features", help="folder of the feature stores (train.h5 and valid.h5) of prepare")
    p.add_argument("out", help="folder of the run: model.keras, tags.json, history.csv/json, "
                   "state.json and checkpoints/")  # fmt: skip
    p.add_argument("--epochs", type=positive_int_arg, default=100, metavar="N", help="most epochs")
    p.add_argument("--batch-size", type=positive_int_arg, default=16, metavar="N", help="clips per mini-batch")
    p.add_argument("--patience", type=positive_int_arg, default=1, metavar="N",
                   help="stop after N epochs without a better validation ROC-AUC (the paper: 1); "
                   "the best epoch's model is kept")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffling and dropout")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in OUT from its last completed epoch (also after a "
                   "kill); starts it if there is none")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    g = p.add_argument_group("accelerators")
    g.add_argument("--mixed-precision", action="store_true",
                   help="compute in float16 with float32 weights and outputs (Keras' "
                   "mixed_float16 policy with loss scaling); fast on GPUs, slow on CPUs")  # fmt: skip
    g.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                   help="compile the training step with XLA (--no-jit-compile: never); "
                   "default: Keras decides (XLA on GPUs, not on CPUs)")  # fmt: skip
    g.add_argument("--distribute", nargs="?", const="auto", default=None,
                   choices=("auto", "mirrored", "multi-worker"),
                   help="train data-parallel: mirrored over every local GPU, or "
                   "multi-worker over the machines of $TF_CONFIG (auto, the default "
                   "without a value: multi-worker when TF_CONFIG names several tasks); "
                   "--batch-size is the global batch")  # fmt: skip
    g.add_argument("--shuffle-block", type=positive_int_arg, default=1, metavar="N",
                   help="shuffle runs of N consecutive clips instead of single clips, for "
                   "stores larger than memory (read from disk, not the page cache)")  # fmt: skip


def _accelerator_args(args: argparse.Namespace) -> dict:
    return {
        "mixed_precision": args.mixed_precision, "jit_compile": args.jit_compile,
        "distribute": args.distribute, "shuffle_block": args.shuffle_block,
    }  # fmt: skip


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train a network from random weights on feature stores",
        description=(
            "Train one of the paper's structures from random weights with its protocol: "
            "Adam (default parameters), binary cross-entropy, the validation ROC-AUC "
            "after every epoch, early stopping and the best model kept as OUT/model.keras."
        ),
        formatter_class=HelpFormatter,
    )
    _add_run_options(p)
    p.add_argument("--arch", choices=ARCHS, default="crnn",
                   help="structure: the CRNN, or the CNNs k2c2 (2D kernels), k1c2, k2c1")  # fmt: skip
    size = p.add_mutually_exclusive_group()
    size.add_argument("--params", type=positive_int_arg, default=None, metavar="N", dest="n_params",
                      help="a parameter budget of the paper (100000, 250000, 500000, "
                      "1000000, 3000000), which picks the widths (default: the released "
                      "model's widths for crnn and k2c2)")  # fmt: skip
    size.add_argument("--widths", type=positive_int_arg, nargs="+", default=None, metavar="W",
                      help="explicit widths: conv maps, then dense or recurrent units "
                      "(crnn: 5 numbers)")  # fmt: skip
    return p


def run_train(args: argparse.Namespace) -> int:
    from ..training.loop import train

    path = train(
        args.features, args.out, arch=args.arch, n_params=args.n_params,
        widths=args.widths, epochs=args.epochs, batch_size=args.batch_size,
        patience=args.patience, seed=args.seed, resume=args.resume,
        verbose=0 if args.quiet else 1, **_accelerator_args(args),
    )  # fmt: skip
    print(path)
    return 0


def add_finetune_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "finetune",
        help="fine-tune the MSD-pretrained CRNN to the tags of feature stores",
        description=(
            "Fine-tune the CRNN pretrained on the Million Song Dataset to the stores' tags. "
            "Default recipe (two-stage): each clip goes once through the frozen network; "
            "stage 1 trains a new output layer on the cached features until the validation "
            "ROC-AUC stops improving; stage 2 trains the layers from --stage2-from up on "
            "the cached activations at a low rate, BatchNorm kept in inference mode, and "
            "keeps its best epoch (never below stage 1 on validation). --recipe unfreeze "
            "is the former recipe (a frozen epoch, then everything). The stores must hold "
            "the original preprocessing (prepare without --frames)."
        ),
        formatter_class=HelpFormatter,
    )
    _add_run_options(p)
    p.set_defaults(epochs=30, patience=5)
    p.add_argument("--recipe", choices=RECIPES, default=RECIPES[0],
                   help="the two-stage recipe, or the former freeze-then-unfreeze one")  # fmt: skip
    p.add_argument("--bn-semantics", choices=BN_READINGS, default=BN_PUBLISHED,
                   help="read the MSD BatchNorm statistics as published (variance) or as "
                   "trained under Keras 1.0.6 (std_keras106)")  # fmt: skip
    p.add_argument("--head", choices=LEVELS, default="multi",
                   help="two-stage: the head reads every conv block's average and the last "
                   "GRU state (multi, 480 dims) or the last GRU state only (top, 32)")  # fmt: skip
    p.add_argument("--head-fit", choices=HEAD_FITS, default="logistic",
                   help="two-stage: stage 1 is the linear probe (logistic regression per tag, "
                   "regularisation chosen on validation) or Adam with early stopping")  # fmt: skip
    p.add_argument("--head-lr", type=float, default=1e-3, dest="head_learning_rate",
                   help="Adam's rate for the new head (unfreeze: while the conv blocks are frozen)")  # fmt: skip
    p.add_argument("--head-epochs", type=positive_int_arg, default=300, metavar="N",
                   help="two-stage with --head-fit adam: most epochs of stage 1")  # fmt: skip
    p.add_argument("--head-patience", type=positive_int_arg, default=20, metavar="N",
                   help="two-stage with --head-fit adam: stop stage 1 after N epochs without "
                   "a better validation ROC-AUC")  # fmt: skip
    p.add_argument("--stage2-from", choices=(*STAGE2_FROM, "none"), default="gru1",
                   help="two-stage: the lowest layer stage 2 trains (none: stage 1 only)")  # fmt: skip
    p.add_argument("--lr", type=float, default=1e-4, dest="learning_rate",
                   help="Adam's rate in stage 2 (unfreeze: once every layer is trained)")  # fmt: skip
    p.add_argument("--freeze-epochs", type=int, default=1, metavar="N",
                   help="unfreeze recipe: epochs with the input BatchNorm and conv blocks frozen")  # fmt: skip
    p.add_argument("--from-scratch", action="store_true",
                   help="unfreeze recipe: start the same architecture from random weights (a baseline)")  # fmt: skip
    p.add_argument("--allow-other-preprocessing", action="store_true",
                   help="only warn, instead of refusing, when the stores' preprocessing is not "
                   "the one the MSD weights were trained on")  # fmt: skip
    return p


def run_finetune(args: argparse.Namespace) -> int:
    from ..training.transfer import finetune

    if args.from_scratch and args.recipe != "unfreeze":
        raise UsageError("--from-scratch needs --recipe unfreeze (or use music-tagger train)")
    path = finetune(
        args.features, args.out, recipe=args.recipe,
        weights=None if args.from_scratch else "msd", bn_semantics=args.bn_semantics,
        head=args.head, head_fit=args.head_fit, head_learning_rate=args.head_learning_rate,
        head_epochs=args.head_epochs, head_patience=args.head_patience,
        stage2_from=None if args.stage2_from == "none" else args.stage2_from,
        learning_rate=args.learning_rate, epochs=args.epochs, patience=args.patience,
        batch_size=args.batch_size, freeze_epochs=args.freeze_epochs, seed=args.seed,
        resume=args.resume, check_preprocessing=not args.allow_other_preprocessing,
        verbose=0 if args.quiet else 1, **_accelerator_args(args),
    )  # fmt: skip
    print(path)
    return 0


def add_evaluate_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate",
        help="score a trained model on a feature store: per-tag and macro ROC-AUC/PR-AUC",
        description=(
            "Score a model of train or finetune on a feature store (e.g. test.h5): prints "
            "the per-tag table, best ROC-AUC first, and writes it as JSON and CSV."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("model", help="the model.keras of a run (its tags.json must match the store)")
    p.add_argument("store", help="a feature store of prepare, e.g. features/test.h5")
    p.add_argument("--out", default=None, metavar="PREFIX",
                   help="write PREFIX.json and PREFIX.csv (a folder: results.json/csv in "
                   "it); default: results-<store name> beside the model")  # fmt: skip
    p.add_argument("--batch-size", type=positive_int_arg, default=16, metavar="N", help="clips per network call")
    return p


def run_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..training.evaluation import evaluate_model, format_table

    out = args.out or Path(args.model).with_name(f"results-{Path(args.store).stem}")
    results = evaluate_model(args.model, args.store, batch_size=args.batch_size, out=out)
    print(format_table(results))
    return 0


def _comma_list(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return items


def _arch_list(text: str) -> list[str]:
    archs = _comma_list(text)
    unknown = [a for a in archs if a not in ARCHS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown structure(s) {', '.join(unknown)}; choose from {','.join(ARCHS)}")
    return archs


def _budget_list(text: str) -> list[int]:
    try:
        return parse_budgets(text)
    except ParameterError as err:
        raise argparse.ArgumentTypeError(str(err))


def add_experiment_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "experiment",
        help="train every structure at every parameter budget (the paper's study)",
        description=(
            "Train each structure at each parameter budget on feature stores with the "
            "paper's protocol (as music-tagger train), score its best model on test.h5, "
            "and write one results table OUT/results.csv and results.json: arch, budget, "
            "exact trainable parameters, best validation ROC-AUC, test macro ROC-AUC and "
            "PR-AUC, per-tag test ROC-AUC, epochs, training seconds and seconds per "
            "sample. Resumable: configurations finished with the same settings are "
            "skipped, an interrupted one continues from its last epoch."
        ),
        epilog="Draw the paper's figures from OUT with: music-tagger figures OUT --out FIGS",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--data", required=True, metavar="FEATURES",
                   help="folder of the train/valid/test feature stores of prepare; k1c2, "
                   "k2c1 and k2c2 need at least 1280 frames")  # fmt: skip
    p.add_argument("--out", default="runs", help="folder of the run folders and the results table")
    p.add_argument("--archs", type=_arch_list, default=",".join(ARCHS),
                   help="structures, comma-separated")  # fmt: skip
    p.add_argument("--budgets", type=_budget_list, default=",".join(f"{b / 1e6:g}" for b in BUDGET_SIZES),
                   help="parameter budgets in millions, comma-separated")  # fmt: skip
    p.add_argument("--width-scale", type=float, default=1.0, metavar="S",
                   help="multiply every width by S (1: the paper's models; e.g. 0.1 for "
                   "small stand-ins in a quick trial, far below the budgets' counts)")  # fmt: skip
    p.add_argument("--epochs", type=positive_int_arg, default=100, metavar="N", help="most epochs per run")
    p.add_argument("--batch-size", type=positive_int_arg, default=16, metavar="N", help="clips per mini-batch")
    p.add_argument("--patience", type=positive_int_arg, default=1, metavar="N",
                   help="stop after N epochs without a better validation ROC-AUC (the paper: 1)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffling and dropout")
    p.add_argument("--quiet", action="store_true", help="no per-configuration lines")
    p.add_argument("--progress", action="store_true", help="also show Keras' progress bar per epoch")
    g = p.add_argument_group(
        "parallel jobs",
        "Run the grid as independent jobs sharing OUT (one per GPU or machine): each "
        "trains its configurations and writes their result.json; then the same command "
        "with --merge writes the table.",
    )
    g.add_argument("--job", type=int, default=None, metavar="K",
                   help="this job's number, 0..N-1 (e.g. $SLURM_ARRAY_TASK_ID): trains "
                   "configurations K, K+N, K+2N, ... in grid order")  # fmt: skip
    g.add_argument("--jobs", type=positive_int_arg, default=None, metavar="N",
                   help="number of jobs (the number of configurations: one each)")  # fmt: skip
    g.add_argument("--only", type=_comma_list, default=None, metavar="NAMES",
                   help="train only these configurations, e.g. crnn-0.1M,k2c2-1M")  # fmt: skip
    g.add_argument("--merge", action="store_true",
                   help="train nothing: collect every configuration's result.json into "
                   "the table (fails naming those not finished)")  # fmt: skip
    return p


def run_experiment(args: argparse.Namespace) -> int:
    from ..training.experiment import grid_files, merge_results, run_experiment

    if (args.job is None) != (args.jobs is None):
        raise UsageError("--job and --jobs go together")
    if args.merge and (args.jobs is not None or args.only is not None):
        raise UsageError("--merge collects the whole grid; leave out --job/--jobs/--only")
    if args.merge:
        rows = merge_results(
            args.out, args.archs, args.budgets, width_scale=args.width_scale,
            epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
            seed=args.seed,
        )  # fmt: skip
    else:
        with contextlib.redirect_stdout(sys.stderr):
            rows = run_experiment(
                args.data, args.out, args.archs, args.budgets, width_scale=args.width_scale,
                epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
                seed=args.seed, verbose=0 if args.quiet else 1 + args.progress,
                job=args.job, jobs=args.jobs, only=args.only,
            )  # fmt: skip
    # the library wrote the table (the whole grid, a merge) or a part's result.json files
    for path in grid_files(rows, args.out, table=args.merge or (args.jobs is None and args.only is None)):
        print(path)
    return 0


def add_figures_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "figures",
        help="draw the paper's figures from the results of experiment",
        description=(
            "Draw, as PNG and PDF: test ROC-AUC vs. trainable parameters, one line per "
            "structure (the paper's Fig. 2); test ROC-AUC vs. training time per sample and "
            "vs. cumulative training time; per-tag test ROC-AUC at the budget nearest 1M, "
            "grouped by tag category and sorted, the baseline (k2c2) as bars and the other "
            "structures as differences (the paper's Fig. 3)."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("runs", help="the OUT folder of experiment (or its results.json)")
    p.add_argument("--out", default="figures", help="folder of the figures")
    p.add_argument("--reference", type=float, default=None, metavar="AUC",
                   help="draw a horizontal reference line at this AUC (e.g. 0.851, the "
                   "state of the art quoted by the paper)")  # fmt: skip
    p.add_argument("--reference-label", default="reference", metavar="TEXT",
                   help="legend entry of the reference line")  # fmt: skip
    p.add_argument("--groups", default=None, metavar="JSON",
                   help='tag categories for the per-tag figure, a JSON file {"group": '
                   '["tag", ...]}; default: genre/mood/instrument/era for the MSD tags, one '
                   "group otherwise")  # fmt: skip
    p.add_argument("--budget", type=float, default=None, metavar="MILLIONS",
                   help="budget of the per-tag figure (default: the one nearest 1)")  # fmt: skip
    p.add_argument("--baseline", default="k2c2", help="structure drawn as bars in the per-tag figure")
    p.add_argument("--title", default="", help="prefix of every title, e.g. the data set's name")
    p.add_argument("--formats", type=_comma_list, default="png,pdf",
                   help="file formats, comma-separated")  # fmt: skip
    return p


def run_figures(args: argparse.Namespace) -> int:
    from ..training.figures import draw_figures, read_groups

    groups = None if args.groups is None else read_groups(args.groups)
    paths = draw_figures(
        args.runs, args.out, reference=args.reference,
        reference_label=args.reference_label, groups=groups,
        budget=None if args.budget is None else round(args.budget * 1e6),
        baseline=args.baseline, title=args.title, formats=args.formats,
    )  # fmt: skip
    for path in paths:
        print(path)
    return 0
