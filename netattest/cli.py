"""``netattest``: a thin front over the pytest suites and the lab; one module per sub-command in ``commands/``.

Every user error ends as one paragraph on stderr and exit status 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from netattest import commands
from netattest.errors import EXIT_BROKEN, NetattestError
from netattest.signals import terminate_as_interrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netattest", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in commands.discover():
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.__doc__)
        module.configure(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passes_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    terminate_as_interrupt()
    try:
        return int(args.handler(args))
    except NetattestError as exc:
        sys.stderr.write(f"netattest: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("netattest: interrupted\n")
        return EXIT_BROKEN


if __name__ == "__main__":
    sys.exit(main())
