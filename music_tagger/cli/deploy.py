"""``music-tagger export``: the taggers as ONNX, SavedModel or LiteRT files."""

import argparse

from .common import HelpFormatter


def add_export_parser(subparsers) -> argparse.ArgumentParser:
    from ..deploy.exports import FORMATS, INPUTS, MODELS

    p = subparsers.add_parser(
        "export",
        help="export a tagger as an ONNX, SavedModel or LiteRT file",
        description=(
            "Write a pretrained tagger (or a model saved by train/finetune) for use "
            "without this package: ONNX (built from the weights, no TensorFlow), a "
            "TensorFlow SavedModel (endpoints serve_melgram and serve_audio) or a "
            "LiteRT file (builtin ops only). With --input melgram the model takes "
            "(batch, 96, 1366, 1) log-mels; with --input audio it takes (batch, "
            "349440) float32 samples, 29.12 s of mono audio at 12 kHz, and computes "
            "the 2016 log-mel inside. The output is (batch, 50) scores in the order "
            "of the 50 MSD tags. Recipes: docs/deploy.md."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="the file (onnx, litert) or folder (saved_model) to write")
    p.add_argument(
        "--model", default="crnn", metavar="MODEL",
        help=f"{' or '.join(MODELS)} (the pretrained taggers), or a .keras file saved "
        "by train/finetune",
    )  # fmt: skip
    p.add_argument("--format", choices=FORMATS, default="onnx", dest="fmt", help="the file format")
    p.add_argument("--input", choices=INPUTS, default="melgram", help="what the exported model takes")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT if it is a file (a folder for saved_model) of an earlier export; "
        "a link, FIFO or device there is never replaced",
    )
    return p


def run_export(args: argparse.Namespace) -> int:
    from ..deploy.exports import export

    print(export(args.out, model=args.model, format=args.fmt, input=args.input, overwrite=args.overwrite))
    return 0
