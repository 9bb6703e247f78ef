"""The one rule for names from outside (models, datasets, trainings, versions, runtimes), and
the one check that a folder the engine writes lies under its data folder.

Every name a request or a command brings is checked here before any work starts; a folder
built from a name is then resolved and confirmed to lie under its root before it is created
(`inside`), a second line of defence should a name ever slip past the first.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.errors import EngineError, InputError

NAME_RULE = "1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
MAX_NAME = 64
MAX_VERSION = 999_999
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # what NAME_RULE says (published in OpenAPI)
VERSION_PATTERN = r"^[0-9]{1,6}$"
_NAME = re.compile(NAME_PATTERN)
_VERSION = re.compile(VERSION_PATTERN)
_SHOWN = 40  # characters of a refused value repeated in the message


# How the generator may run (`engine.runtimes`): `auto`, or a runtime and its precision.
AUTO = "auto"
RUNTIMES = (
    "eager-fp32",
    "eager-bf16",
    "eager-fp16",
    "compile-fp32",
    "compile-bf16",
    "onnxruntime-fp32",
    "openvino-fp32",
    "openvino-bf16",
    "tensorrt-fp16",
)


def check_runtime(name: str) -> str:
    """`name` when it is `auto` or a known runtime; ValueError saying which exist otherwise."""
    if name != AUTO and name not in RUNTIMES:
        raise ValueError(f"runtime must be {AUTO} or one of {', '.join(RUNTIMES)}; got {name!r}")
    return name


class InvalidNameError(InputError, ValueError):
    """A model, dataset or training name (or a version) that breaks the rule."""


class OutsideDataFolderError(EngineError):
    """A path the engine was about to write lies outside its data folder."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def check_name(name: object, what: str = "model") -> str:
    """`name` if it follows the rule, else InvalidNameError saying what is allowed."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidNameError(f"{what} name must be {NAME_RULE}; got {_shown(name)}")
    return name


def check_version(version: object) -> int:
    """A model version (a whole number from 1 to 999999, as int or text)."""
    if isinstance(version, str) and _VERSION.fullmatch(version):
        version = int(version)
    if isinstance(version, int) and not isinstance(version, bool) and 1 <= version <= MAX_VERSION:
        return version
    raise InvalidNameError(
        f"model version must be a whole number from 1 to {MAX_VERSION}; got {_shown(version)}"
    )


def parse_model_ref(ref: str) -> tuple[str, int | None]:
    """'nature' -> ('nature', None); 'nature@3' -> ('nature', 3); both parts checked."""
    name, at, version = ref.partition("@")
    return check_name(name), check_version(version) if at else None


def inside(root: Path, *parts: str) -> Path:
    """`root`/`parts`, resolved, once it is confirmed to lie under `root` (else refused)."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if path == base or not path.is_relative_to(base):
        raise OutsideDataFolderError(f"refusing to write outside the data folder: {_shown(parts)}")
    return path
