"""Settings for loading an encoder, and reading them from a YAML file.

The tutorial kept its options in ``config.yml`` and read them with ``yaml.load``
(which can construct arbitrary Python objects). Here the file is read with
``yaml.safe_load`` only: a tag such as ``!!python/object`` is refused before
anything runs.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._validation import PATH, Instance, InvalidParameterError, Unchecked, validate_params
from .encoding import TORCH_DTYPES
from .kernels import CPU_LINEAR

__all__ = ["Settings", "read_settings", "DTYPES", "DEVICES", "MODEL_ENV", "model_from_env"]

DTYPES = tuple(TORCH_DTYPES)
DEVICES = ("auto", "cpu", "cuda", "mps")

#: Environment variable naming the default model (a folder or a Hub name), read when no model is given.
MODEL_ENV = "BERTVIZ_KIT_MODEL"


def model_from_env() -> str | None:
    """The model named by ``BERTVIZ_KIT_MODEL`` (``None`` when unset or empty)."""
    value = os.environ.get(MODEL_ENV, "").strip()
    return value or None


# Keys the tutorial's config.yml used, mapped onto ours.
_ALIASES = {"config_name": "model", "model_name_or_path": "model", "model_name": "model"}


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidParameterError(f"{name} must be one of {allowed}; got {value!r}.")


def _check_device(value: Any) -> None:
    if not isinstance(value, str) or not (
        value in DEVICES or value.startswith("cuda:") and value[5:].isdigit()
    ):
        raise InvalidParameterError(f"device must be one of {DEVICES} or 'cuda:N'; got {value!r}.")


@dataclass(frozen=True)
class Settings:
    """Options for :func:`bertviz_kit.load`.

    Parameters
    ----------
    model : str or None
        Hugging Face model name or local folder. ``None`` means the bundled
        all-MiniLM-L6-v2 (works offline). The default comes from the
        environment variable ``BERTVIZ_KIT_MODEL`` when it is set (a folder,
        best given as an absolute path, or a name in the local Hugging Face
        cache): every notebook and command that loads "the default model"
        then uses it. A ``model`` argument or a YAML ``model:`` key wins over it.
    cache_dir : str or None
        Folder for downloaded files (only used when ``download`` is true).
    device : str
        ``"auto"`` (a GPU when there is one, else the CPU), ``"cpu"``,
        ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    dtype : str
        ``"float32"`` (default), or ``"bfloat16"`` / ``"float16"`` as a faster,
        slightly less exact path.
    verbose : bool
        Log what is loaded (weights newly initialized or unused, devices).
    max_length : int or None
        Tokens per window, special tokens included. ``None`` takes the model's
        limit (512 for BERT). Longer texts are encoded in overlapping windows.
    stride : int
        Tokens shared by neighbouring windows of a long text (default 128).
        At most half a window is shared: a larger stride is capped there.
    attentions : bool
        Load with eager attention so that attention weights can be returned.
    download : bool
        Allow fetching a model from the Hugging Face Hub. Off by default:
        nothing reaches the network unless you ask.
    use_safetensors : bool
        Load weights from ``.safetensors`` only. Set to false to allow pickled
        ``.bin`` weights from a source you trust.
    trust_remote_code : bool
        Allow a model folder's own Python code to run. Off by default.
    cpu_linear : str
        Kernels for float32 linear layers on the CPU: ``"auto"`` (default) uses
        oneDNN's packed kernels where the CPU has AVX-512 and MKL does not run its
        AVX-512 code on it (about 2x on AMD Zen 4/5, see :mod:`bertviz_kit.kernels`),
        decided from the CPU and the libraries, never by timing; ``"onednn"``
        requires them, ``"torch"`` keeps PyTorch's own (BLAS) kernels. The default
        comes from the environment variable ``BERTVIZ_KIT_CPU_LINEAR`` when it is set.
    """

    model: str | None = field(default_factory=model_from_env)
    cache_dir: str | None = None
    device: str = "auto"
    dtype: str = "float32"
    verbose: bool = False
    max_length: int | None = None
    stride: int = 128
    attentions: bool = False
    download: bool = False
    use_safetensors: bool = True
    trust_remote_code: bool = False
    cpu_linear: str = field(default_factory=lambda: os.environ.get("BERTVIZ_KIT_CPU_LINEAR", "auto"))
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.model is not None and not isinstance(self.model, (str, os.PathLike)):
            raise InvalidParameterError(f"model must be a name, a path or None; got {self.model!r}.")
        if self.model is not None:
            object.__setattr__(self, "model", os.fspath(self.model))
        _check_device(self.device)
        _check_choice("dtype", self.dtype, DTYPES)
        _check_choice("cpu_linear", self.cpu_linear, CPU_LINEAR)
        for flag in ("verbose", "attentions", "download", "use_safetensors", "trust_remote_code"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidParameterError(f"{flag} must be true or false; got {getattr(self, flag)!r}.")
        if self.max_length is not None and (
            not isinstance(self.max_length, int) or isinstance(self.max_length, bool)
            or self.max_length < 8
        ):
            raise InvalidParameterError(f"max_length must be an int >= 8 or None; got {self.max_length!r}.")
        if not isinstance(self.stride, int) or isinstance(self.stride, bool) or self.stride < 0:
            raise InvalidParameterError(f"stride must be an int >= 0; got {self.stride!r}.")

    @classmethod
    @validate_params({"data": Instance(dict, label="a mapping of settings")})
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Build settings from a mapping; unknown keys raise ``ValueError``.

        The tutorial's key ``config_name`` is accepted as ``model``.
        """
        if not isinstance(data, dict):
            raise InvalidParameterError(f"settings must be a mapping; got {type(data).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            key = _ALIASES.get(key, key)
            if key not in known:
                raise InvalidParameterError(
                    f"unknown setting {key!r}; allowed are {tuple(sorted(known))}."
                )
            kwargs[key] = value
        return cls(**kwargs)

    @validate_params({"changes": Unchecked("fields of Settings; the new Settings checks them in __post_init__")})
    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed (``None`` values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes)


@validate_params({"path": PATH})
def read_settings(path: str | os.PathLike) -> Settings:
    """Read :class:`Settings` from a YAML file with ``yaml.safe_load``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not UTF-8, not valid safe YAML (for example it uses a
        ``!!python/object`` tag), uses aliases, is not a mapping, or names unknown keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidParameterError(
            f"config file {str(path)!r} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at position "
            f"{exc.start}); save it as UTF-8."
        ) from None
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise InvalidParameterError(
                f"config file {str(path)!r} uses YAML aliases (*name); a settings file needs none, and "
                f"aliases can expand a small file into a huge one. Write each value out."
            )
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidParameterError(
            f"config file {str(path)!r} is not safe YAML (only plain mappings, lists, strings "
            f"and numbers are read; Python tags are refused): {exc}"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidParameterError(f"config file {str(path)!r} must hold a mapping; got {type(data).__name__}.")
    return Settings.from_dict(data)
