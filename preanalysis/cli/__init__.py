"""The `preanalysis` command: a thin layer over the library; each subcommand lives in preanalysis.cli."""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from typing import NoReturn

from tqdm.contrib.logging import logging_redirect_tqdm

from ..errors import PreanalysisError

# One module per subcommand; each defines HELP, add_arguments(parser) and run(args) -> int.
COMMANDS = ("analyze", "encode", "qpfile", "demo", "eval", "tune", "farm", "statmux", "visualize", "train", "models")


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line like every other bad input's (no usage dump); subcommands inherit it."""

    def error(self, message: str) -> NoReturn:
        choice = re.fullmatch(r"(argument \S+: invalid choice): (.*) \(choose from (.*)\)", message)
        if choice:
            message = f"{choice[1]} {choice[2]} (choose from {choice[3].replace(chr(39), '')})"
        else:
            message += f" (see {self.prog} --help)"
        self.exit(2, f"preanalysis: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="preanalysis",
        description="Analyse a video before encoding and tell the encoder where to spend bits "
        "(salience mask -> per-block QP offsets for x264/x265, qp/ROI files for other encoders).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (and tracebacks on errors)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"preanalysis.cli.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="preanalysis: %(message)s", stream=sys.stderr
    )
    try:
        with logging_redirect_tqdm():  # a warning during a progress bar gets its own line, not the bar's
            return int(args.run(args) or 0)
    except PreanalysisError as exc:
        if args.verbose:
            raise
        print(f"preanalysis: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("preanalysis: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
