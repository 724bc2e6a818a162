"""Modules that share their name with their main function, and can be called like it.

``minewatch.report`` (``report.py`` and ``report()``), ``minewatch.evaluate`` and
``minewatch.detect.vectorize`` are each a module and a function of the same name. Python binds
the package attribute to whichever was imported last, so ``minewatch.report(...)`` or
``import minewatch.detect.vectorize as m; m.label_objects`` would break depending on import
order. Making the module callable (it calls the function) removes the trap: both spellings
work whatever was imported first.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Make the module ``module_name`` callable: calling it calls ``function``."""

    class _CallableModule(types.ModuleType):
        __doc__ = sys.modules[module_name].__doc__

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

    sys.modules[module_name].__class__ = _CallableModule
