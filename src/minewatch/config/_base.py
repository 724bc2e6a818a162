"""Shared machinery of the config dataclasses: range-checked fields, dict/TOML conversion."""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from minewatch.errors import ConfigError

__all__ = ["check_fields", "from_mapping", "setting", "to_mapping"]


def setting(default: Any, *, low: float | None = None, high: float | None = None,
            doc: str = "", choices: tuple[Any, ...] | None = None) -> Any:
    """A dataclass field with an allowed range (inclusive) or a set of allowed values.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Demo:
    ...     min_area_m2: float = setting(9.0, low=0.0, doc="smallest pool kept (m²)")
    ...     def __post_init__(self):
    ...         check_fields(self)
    >>> Demo(min_area_m2=-1)
    Traceback (most recent call last):
    ...
    minewatch.errors.ConfigError: Demo.min_area_m2 = -1 is out of range: allowed 0.0 ≤ value.
    """
    return dataclasses.field(
        default=default, metadata={"low": low, "high": high, "doc": doc, "choices": choices}
    )


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is tuple:
        args = typing.get_args(annotation)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_type_ok(v, args[0]) for v in value)
        return len(args) == len(value) and all(_type_ok(v, a) for v, a in zip(value, args,
                                                                              strict=True))
    return True  # nested dataclasses and other types are checked by their own __post_init__


def check_fields(obj: Any) -> None:
    """Validate every field of a config dataclass: type, range, allowed values.

    Raises
    ------
    ConfigError
        Naming ``Class.field``, the value, and the allowed range or values.
    """
    hints = typing.get_type_hints(type(obj))
    name = type(obj).__name__
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not _type_ok(value, hints[f.name]):
            raise ConfigError(
                f"{name}.{f.name} = {value!r} has the wrong type ({type(value).__name__}): "
                f"expected {_type_name(hints[f.name])}."
            )
        low, high = f.metadata.get("low"), f.metadata.get("high")
        choices = f.metadata.get("choices")
        if choices is not None and value not in choices:
            raise ConfigError(f"{name}.{f.name} = {value!r}: allowed values are {choices}.")
        numbers = value if isinstance(value, tuple) else (value,)
        for v in numbers:
            if not isinstance(v, int | float) or isinstance(v, bool):
                continue
            if not math.isfinite(v) or (low is not None and v < low) or (
                    high is not None and v > high):
                allowed = " ≤ ".join(
                    p for p in (str(low) if low is not None else "", "value",
                                str(high) if high is not None else "") if p
                )
                raise ConfigError(
                    f"{name}.{f.name} = {value!r} is out of range: allowed {allowed}."
                )


def _type_name(annotation: Any) -> str:
    """``float``, ``int or None``, ``tuple of str``: a type hint as a reader writes it."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_name(args[0])}"
        return f"a list of {len(args)} ({', '.join(_type_name(a) for a in args)})"
    if annotation is type(None):
        return "None (leave the key out)"
    return getattr(annotation, "__name__", str(annotation))


def to_mapping(obj: Any) -> dict[str, Any]:
    """A plain nested dict of a config dataclass (tuples as lists, ready for TOML)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_mapping(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        elif value is not None:  # TOML has no null: absent means None
            out[f.name] = value
    return out


def from_mapping(cls: type, data: Mapping[str, Any], *, where: str = "") -> Any:
    """Build config dataclass ``cls`` from a nested mapping; unknown keys are errors.

    Raises
    ------
    ConfigError
        An unknown key (with the known ones listed), or a value ``check_fields`` rejects.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a table, got {data!r}.")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        guesses = {u: difflib.get_close_matches(str(u), list(known), n=1) for u in unknown}
        hint = "".join(f" Did you mean {g[0]!r} for {u!r}?" for u, g in guesses.items() if g)
        raise ConfigError(
            f"{where or cls.__name__}: unknown setting(s) {unknown}; known: {sorted(known)}."
            + hint
        )
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        annotation = hints[key]
        if dataclasses.is_dataclass(annotation):
            kwargs[key] = from_mapping(annotation, value, where=f"{where or cls.__name__}.{key}")
        elif isinstance(value, list):
            kwargs[key] = tuple(value)
        elif isinstance(value, int) and not isinstance(value, bool) and annotation is float:
            kwargs[key] = float(value)
        else:
            kwargs[key] = value
    return cls(**kwargs)


def toml_dumps(data: Mapping[str, Any], prefix: str = "") -> str:
    """Write a nested mapping of scalars and lists as TOML.

    Hand-written because the standard library reads TOML (``tomllib``) but cannot write it, and
    config files hold only numbers, strings, booleans and flat lists.
    """

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        raise ConfigError(f"cannot write {v!r} to TOML")

    lines = [f"{k} = {scalar(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for k, v in data.items():
        if isinstance(v, Mapping):
            table = f"{prefix}.{k}" if prefix else k
            lines.append(f"\n[{table}]")
            lines.append(toml_dumps(v, table).strip("\n"))
    return "\n".join(line for line in lines if line != "") + "\n"
