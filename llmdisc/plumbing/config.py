"""Dataclass configs: filled from a YAML file, overridden by command-line flags.

Every recipe and every classifier has a dataclass whose fields are its settings. The same rules
hold everywhere (as in trl's scripts):

* a YAML file fills the fields, flags override the file, defaults fill the rest;
* an unknown key, in YAML or in ``get_classifier(name, **config)``, is an error that lists the
  valid keys;
* values are coerced to the field's type, so ``lr: 1e-4`` (a string to YAML 1.1) is a float,
  ``ngram_range: [1, 2]`` a tuple, and ``--approaches a,b`` a list.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from llmdisc.errors import LlmdiscError, first_line

__all__ = [
    "CLI_KEYS",
    "DEFAULT_SEED",
    "arg",
    "config_from_dict",
    "config_to_dict",
    "load_yaml",
    "make_parser",
    "merged_values",
    "parse_config",
    "replace_config",
    "SeedSettings",
    "parse_mapping",
]

T = TypeVar("T")

# The one default seed: data subsets, splits, training, demonstrations and sampling all start here,
# so a run with no --seed is reproducible and the same everywhere.
DEFAULT_SEED = 0

# argparse destinations that steer the CLI itself and are not settings.
CLI_KEYS = frozenset({"config", "command", "func", "approach", "verbose", "inputs"})


def arg(default: Any = None, help: str = "", **kwargs) -> Any:
    """A dataclass field with a help string (mutable defaults are copied per instance)."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kwargs)
    return dataclasses.field(default=default, metadata={"help": help}, **kwargs)


@dataclasses.dataclass
class SeedSettings:
    """The one seed of a run: data subsets, splits, training, demonstrations and sampling start here.

    Every config that needs a seed inherits it from here, so that a command whose settings combine
    several groups (the data's, the comparison's) declares it once.
    """

    seed: int = arg(DEFAULT_SEED, "random seed (subsets, splits, training)")


def _base_type(tp: Any, value: Any = None) -> tuple[Any, bool]:
    """Strip ``Optional``: return (the type, whether None is allowed).

    For a union such as ``list[str] | dict``, the member matching ``value``'s kind is chosen
    (a string from the command line becomes the list).
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        if len(args) == 1:
            return args[0], optional
        for a in args:
            a_origin = typing.get_origin(a) or a
            if isinstance(value, a_origin) or (isinstance(value, str) and a_origin is list):
                return a, optional
        if value is None:
            return Any, optional
        names = " or ".join(getattr(typing.get_origin(a) or a, "__name__", str(a)) for a in args)
        raise TypeError(names)
    return tp, False


def parse_mapping(name: str, value: str) -> dict[str, str]:
    """A mapping from its command-line form: ``key=value,key=value``, or a JSON object.

    Args:
        name: the setting, for error messages.
        value: the text given (a JSON object for values holding commas or ``=``).

    Returns:
        The mapping; keys and values stripped of surrounding spaces.
    """
    if value.lstrip().startswith("{"):
        try:
            mapping = json.loads(value)
        except json.JSONDecodeError:
            raise LlmdiscError(f"{name}: cannot read {value!r} as a JSON object") from None
        if not isinstance(mapping, dict):
            raise LlmdiscError(f"{name}: cannot read {value!r} as a JSON object")
        return {str(k).strip(): str(v).strip() for k, v in mapping.items()}
    out: dict[str, str] = {}
    for piece in (p for p in value.split(",") if p.strip()):
        key, sep, word = piece.partition("=")
        if not sep or not key.strip():
            raise LlmdiscError(
                f"{name}: cannot read {piece.strip()!r} as key=value; write e.g. neg=negative,pos=positive "
                "(or a JSON object for values holding commas)"
            )
        out[key.strip()] = word.strip()
    return out


def _coerce(name: str, tp: Any, value: Any) -> Any:
    """Convert ``value`` (from YAML or a flag) to the field type ``tp``."""
    try:
        base, optional = _base_type(tp, value)
    except TypeError as e:
        raise LlmdiscError(f"{name}: cannot read {value!r} as {e}") from None
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null", "")):
        if optional or base is Any:
            return None
        raise LlmdiscError(f"{name} must not be empty")
    origin = typing.get_origin(base) or base
    try:
        if base is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "yes", "1")
            return bool(value)
        if base in (int, float):
            if isinstance(value, bool):
                raise ValueError(value)
            out = base(value) if base is float else int(str(value)) if isinstance(value, str) else value
            if base is int and not isinstance(out, int):
                raise ValueError(value)
            return out
        if base is str:
            return str(value)
        if origin in (list, tuple):
            if isinstance(value, str) and value.lstrip().startswith("["):
                value = json.loads(value)  # a JSON list, for items that hold commas
            items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
            args = typing.get_args(base)
            item_type = args[0] if args else Any
            items = [_coerce(name, item_type, v) if item_type is not Any else v for v in items]
            return tuple(items) if origin is tuple else items
        if origin is dict:
            if isinstance(value, str):
                return parse_mapping(name, value)
            if not isinstance(value, dict):
                raise ValueError(value)
            return dict(value)
    except (TypeError, ValueError):  # json.JSONDecodeError is a ValueError
        raise LlmdiscError(f"{name}: cannot read {value!r} as {getattr(base, '__name__', base)}") from None
    return value


def config_from_dict(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from ``values``, coercing types; unknown keys are an error.

    Args:
        cls: a dataclass type.
        values: field values (from YAML, flags or keyword arguments).
        where: what to call the config in error messages.

    Returns:
        An instance of ``cls``.
    """
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise LlmdiscError(f"unknown {where} key(s): {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    return cls(**{k: _coerce(f"{where}.{k}", hints[k], v) for k, v in values.items()})


def replace_config(config: T, values: Mapping[str, Any], where: str = "settings") -> T:
    """A copy of dataclass ``config`` with ``values`` replaced, coerced as :func:`config_from_dict` does.

    The keyword form of a function that takes a settings object (``compare(..., sizes=[8, 32])``):
    an unknown key is a one-line error naming the valid ones.
    """
    if not values:
        return config
    hints = typing.get_type_hints(type(config))
    valid = [f.name for f in dataclasses.fields(config)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise LlmdiscError(f"unknown {where} key(s): {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    return dataclasses.replace(config, **{k: _coerce(f"{where}.{k}", hints[k], v) for k, v in values.items()})


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass as a JSON/YAML-friendly dict (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with one-line errors for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise LlmdiscError(f"config file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise LlmdiscError(f"{path} is not valid YAML: {first_line(e)}") from None
    if not isinstance(values, dict):
        raise LlmdiscError(f"{path} must hold a mapping of key: value, not a {type(values).__name__}")
    return values


def _unescape(value: str) -> str:
    r"""Command-line strings may write a newline or tab as \n or \t (shells pass them literally)."""
    return value.replace("\\n", "\n").replace("\\t", "\t")


def make_parser(cls: type, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add one ``--flag`` per field of dataclass ``cls`` (plus ``--config``) to a parser.

    Flags default to "not given" so that YAML values survive unless a flag overrides them.
    A dict-valued field's flag takes ``key=value,key=value`` or a JSON object (:func:`parse_mapping`).
    Each flag also answers to transformers' spelling, ``--learning_rate`` for ``--learning-rate``
    (``--no_resume`` for ``--no-resume``), left out of ``--help``.
    """
    parser = parser or argparse.ArgumentParser()
    parser.add_argument("--config", metavar="FILE.yaml", help="YAML file of settings; flags override it")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        base, _ = _base_type(hints[f.name])
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        )
        help_text = f.metadata.get("help", "")
        if "default" not in help_text:
            help_text += f" (default: {default})"
        flag = "--" + f.name.replace("_", "-")
        hidden = {"dest": f.name, "default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
        if base is bool:
            parser.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
            )
            if "_" in f.name:
                parser.add_argument("--" + f.name, action="store_const", const=True, **hidden)
                parser.add_argument("--no_" + f.name, action="store_const", const=False, **hidden)
        else:
            parser.add_argument(
                flag, dest=f.name, default=argparse.SUPPRESS, metavar=f.name.upper(), help=help_text, type=_unescape
            )
            if "_" in f.name:
                parser.add_argument("--" + f.name, metavar=f.name.upper(), type=_unescape, **hidden)
    return parser


def merged_values(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The ``--config`` YAML's values updated with the flags given; and what to call them in errors."""
    values = load_yaml(args.config) if getattr(args, "config", None) else {}
    values.update({k: v for k, v in vars(args).items() if k not in CLI_KEYS})
    return values, Path(args.config).name if getattr(args, "config", None) else "config"


def parse_config(cls: type[T], args: argparse.Namespace) -> T:
    """Merge ``--config`` YAML and the flags given in ``args`` into a ``cls`` instance."""
    values, where = merged_values(args)
    return config_from_dict(cls, values, where=where)
