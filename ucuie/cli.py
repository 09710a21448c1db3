"""The ``ucuie`` console command.

Each subcommand lives in the module that holds its logic; that module provides
``add_arguments(parser)`` and ``run(args) -> int``.  Modules are imported only when their
subcommand runs, so ``ucuie --help`` stays fast (no torch import).
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "backbone": ("ucuie.backbone", "materialise a backbone (embedded SmolLM2, a local HF folder or a hub name) as a plain HF folder"),
    "convert": ("ucuie.data.convert", "convert a published dataset into unified JSONL records"),
    "count-params": ("ucuie.adapter.count_params", "count base and adapter parameters of a model shape on the meta device"),
    "bench-adapter": ("ucuie.adapter.bench", "benchmark the fused hierarchical adapter against PEFT LoRA and the reference loop"),
    "bench-pipeline": ("ucuie.bench_pipeline", "time the workflow per rule family and its no-op rerun; our training loop against transformers.Trainer + PEFT; padding"),
    "train": ("ucuie.train", "train an adapter (multi-task stage or capability warming) on instance files; resumes from a checkpoint"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="ucuie", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SUBCOMMANDS:
        args = parser.parse_args(argv)  # prints help or the unknown-command error
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    name = argv[0]
    module_name, help_text = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    cmd_parser = argparse.ArgumentParser(prog=f"ucuie {name}", description=help_text)
    module.add_arguments(cmd_parser)
    args = cmd_parser.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
