"""Command line: ``python -m minewatch.synth`` (the ``minewatch synth`` command).

    python -m minewatch.synth --sample-archive sample_tiles [--overwrite]
    python -m minewatch.synth OUT --layout landsat --resolution 30 --seed 3 [--overwrite]
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``minewatch synth`` with ``argv``; return the exit status.

    ``--dates A B C`` (the older spelling) is accepted as well as ``--dates A,B,C``.
    """
    from minewatch.cli import main as cli_main

    args: list[str] = []
    given = list(sys.argv[1:] if argv is None else argv)
    i = 0
    while i < len(given):
        args.append(given[i])
        if given[i] == "--dates":
            values = []
            while i + 1 < len(given) and not given[i + 1].startswith("-"):
                values.append(given[i + 1])
                i += 1
            args.append(",".join(values))
        i += 1
    return cli_main(["synth", *args], prog_name="python -m minewatch.synth")


if __name__ == "__main__":
    raise SystemExit(main())
