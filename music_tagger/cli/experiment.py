"""``music-tagger experiment`` and ``figures``: the paper's grid and its figures."""

import argparse
import contextlib
import sys

from ..errors import ParameterError, UsageError
from ..models.architectures import ARCHS, BUDGET_SIZES, parse_budgets
from .common import HelpFormatter, positive_int_arg


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
