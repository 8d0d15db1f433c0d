"""One module per ``netattest`` sub-command, discovered by the CLI.

Each module defines ``NAME``, ``HELP``, ``configure(parser)`` and ``run(args) -> int``; adding a command is adding a
module, with no shared registry to edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def discover() -> list[ModuleType]:
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
    return sorted((m for m in modules if hasattr(m, "NAME")), key=lambda m: m.NAME)
