"""Dataclass configs: one declaration gives the defaults, the flags, the YAML keys and the checks.

An algorithm declares `@dataclass class Config` with fields made by `opt(...)`. Values are
resolved in this order, later wins: field default < YAML file (`--config`) < command-line flag.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from rl.errors import UserError, did_you_mean


def opt(default: Any, help: str, *, min: float | None = None, max: float | None = None,
        min_exclusive: bool = False, resumable: bool = False) -> Any:
    """A config field. `min`/`max` bound numbers; `resumable` fields may change on --resume."""
    meta = {"help": help, "min": min, "max": max, "min_exclusive": min_exclusive,
            "resumable": resumable}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _field_types(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _base_type(tp: Any) -> Any:
    """int | None -> int; other types unchanged."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)


def _parse_kv(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key, yaml.safe_load(value)  # 'false' -> False, '8' -> 8, '8x8' -> '8x8'


def add_config_args(parser: argparse.ArgumentParser, cls: type,
                    title: str = "algorithm options") -> None:
    """One flag per config field; unset flags stay absent so YAML values are not overridden."""
    hints = _field_types(cls)
    group = parser.add_argument_group(title)
    for f in dataclasses.fields(cls):
        tp = _base_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag = "--" + f.name.replace("_", "-")
        # a None default means what the help says (e.g. "default: the env's own")
        shown = "" if default is None else f" (default: {default})"
        kw: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS,
                              "help": f"{f.metadata.get('help', '')}{shown}"}
        if tp is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif get_origin(tp) is Literal:
            kw["choices"] = get_args(tp)
            kw["metavar"] = "{" + ",".join(map(str, get_args(tp))) + "}"
        elif tp is dict or get_origin(tp) is dict:
            kw.update(nargs="*", type=_parse_kv, metavar="KEY=VALUE")
        elif tp in (int, float, str):
            kw["type"] = tp
        else:
            raise TypeError(f"unsupported config type {tp} for {f.name}")
        group.add_argument(flag, **kw)


def _coerce(name: str, tp: Any, value: Any) -> Any:
    """Convert a YAML or CLI value to the field's type, or raise a UserError naming the field."""
    optional = _is_optional(tp)
    tp = _base_type(tp)
    if value is None and optional:
        return None
    flag = "--" + name.replace("_", "-")
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            raise ValueError
        if get_origin(tp) is Literal:
            if value not in get_args(tp):
                choices = ", ".join(map(str, get_args(tp)))
                raise UserError(f"{flag} must be one of {choices}, got {value!r}"
                                + did_you_mean(str(value), map(str, get_args(tp))))
            return value
        if tp is dict or get_origin(tp) is dict:
            if isinstance(value, list):  # from the CLI: [(key, value), ...]
                return dict(value)
            if isinstance(value, dict):
                return value
            raise ValueError
        if tp is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if tp is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)  # YAML 1.1 reads '1e-4' as a string
        if tp is str:
            if not isinstance(value, (str, int, float)):
                raise ValueError
            return str(value)
    except (ValueError, TypeError):
        raise UserError(f"{flag} expects {getattr(tp, '__name__', tp)}, got {value!r}") from None
    return value


def _check_range(cfg: Any) -> None:
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{flag} must be a finite number, got {value}")
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if lo is not None and (value < lo or (f.metadata.get("min_exclusive") and value == lo)):
            bound = f"> {lo}" if f.metadata.get("min_exclusive") else f">= {lo}"
            raise UserError(f"{flag} must be {bound}, got {value}")
        if hi is not None and value > hi:
            raise UserError(f"{flag} must be <= {hi}, got {value}")


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} not found (see experiments/ for examples)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}" if where else ""
        raise UserError(f"config file {path} is not valid YAML{at}: fix the syntax") from None
    except OSError as e:
        raise UserError(f"cannot read config file {path}: {e.strerror}") from None
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of option: value")
    return data


def build_config(cls: type, *layers: dict[str, Any]) -> Any:
    """Defaults, then each layer of overrides in order; unknown keys and bad values are
    UserErrors."""
    hints = _field_types(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            name = key.replace("-", "_")
            if name not in hints:
                raise UserError(f"unknown option {key!r}{did_you_mean(name, names)}")
            values[name] = _coerce(name, hints[name], value)
    cfg = cls(**values)
    _check_range(cfg)
    check = getattr(cfg, "check", None)
    if check is not None:
        check()
    return cfg


def flag_names(cls: type) -> list[str]:
    """The command-line flags of a config class, as add_config_args spells them."""
    return ["--" + f.name.replace("_", "-") for f in dataclasses.fields(cls)]


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def resumable_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.metadata.get("resumable")}


def saved_config(cls: type, config: dict[str, Any]) -> Any:
    """The Config a run was trained with, from its config.yaml (run options and 'algo' dropped)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in config.items() if k in names})
