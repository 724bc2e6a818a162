"""The public API: every name in ``minewatch.__all__`` resolves, lazily."""

from __future__ import annotations

import subprocess
import sys

import minewatch


def test_every_public_name_resolves() -> None:
    assert set(minewatch.__all__) - {"__version__"} == set(minewatch._EXPORTS)
    for name in minewatch.__all__:
        assert getattr(minewatch, name) is not None, name
    assert set(minewatch.__all__) <= set(dir(minewatch))


def test_import_is_light_and_report_is_callable_either_way() -> None:
    code = ("import sys, minewatch; heavy = [m for m in ('dask', 'xarray', 'geopandas') "
            "if m in sys.modules]; print(','.join(heavy) or 'none')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "none"
    import minewatch.report as module_or_function  # the submodule shares the name

    assert callable(module_or_function) and callable(minewatch.report)


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        minewatch.does_not_exist  # noqa: B018
    except AttributeError as err:
        assert "does_not_exist" in str(err)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_modules_named_like_their_function_work_both_ways() -> None:
    import minewatch.detect.vectorize as vectorize_module
    import minewatch.evaluate as evaluate_module

    assert hasattr(vectorize_module, "label_objects") and callable(vectorize_module)
    assert hasattr(evaluate_module, "Evaluation") and callable(minewatch.evaluate)
    from minewatch.detect import vectorize

    assert vectorize is vectorize_module
