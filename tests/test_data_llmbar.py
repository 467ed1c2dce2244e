"""LLMBar and MT-Bench human judgements, on the real files in ../shared/data/llmbar."""
import json
from pathlib import Path

import pytest

from rrmlib.data import load_pairs

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LLMBAR = SHARED / "llmbar"
SIZES = {"Natural": 100, "Adversarial_Neighbor": 134, "Adversarial_GPTInst": 92, "Adversarial_GPTOut": 47,
         "Adversarial_Manual": 46}

needs_llmbar = pytest.mark.skipif(not LLMBAR.exists(), reason=f"{LLMBAR} absent: the LLMBar files live in "
                                  "../shared/data beside the project")


def expected(path, subset):
    out = []
    for n, r in enumerate(json.loads(Path(path).read_text())):
        better, worse = (r["output_1"], r["output_2"]) if r["label"] == 1 else (r["output_2"], r["output_1"])
        out.append((f"{subset}-{n}", r["input"], better, worse, subset))
    return out


def as_tuples(pairs):
    return [(p.id, p.prompt, p.chosen, p.rejected, p.subset) for p in pairs]


@needs_llmbar
def test_natural_is_100_pairs_equal_to_the_file():
    pairs = load_pairs("llmbar", root=LLMBAR)
    assert len(pairs) == 100
    assert as_tuples(pairs) == expected(LLMBAR / "Natural.json", "Natural")
    assert not any(p.tie for p in pairs)


@needs_llmbar
@pytest.mark.parametrize("subset,n", SIZES.items())
def test_each_subset(subset, n):
    pairs = load_pairs("llmbar", root=LLMBAR, subset=subset)
    assert len(pairs) == n and {p.subset for p in pairs} == {subset}


@needs_llmbar
def test_all_and_adversarial():
    assert len(load_pairs("llmbar", root=LLMBAR, subset="all")) == sum(SIZES.values()) == 419
    assert len(load_pairs("llmbar", root=LLMBAR, subset="Adversarial")) == 319
    with pytest.raises(ValueError, match="unknown subset"):
        load_pairs("llmbar", root=LLMBAR, subset="Adversarial_Nope")


@needs_llmbar
def test_mt_bench_human_is_200_pairs():
    pairs = load_pairs("mt-bench-human", root=LLMBAR)
    assert len(pairs) == 200
    assert as_tuples(pairs) == expected(LLMBAR / "MT-Bench_human.json", "mt-bench-human")
    assert load_pairs("MT-Bench_human", path=LLMBAR / "MT-Bench_human.json") == pairs


@needs_llmbar
def test_path_and_bare_path():
    by_path = load_pairs("llmbar", path=LLMBAR / "Natural.json")
    assert by_path == load_pairs("llmbar", root=LLMBAR) == load_pairs(LLMBAR / "Natural.json")


@needs_llmbar
def test_rrm_data_environment_variable(monkeypatch):
    monkeypatch.setenv("RRM_DATA", str(SHARED))
    assert len(load_pairs("llmbar", subset="Adversarial_GPTOut")) == 47


def test_no_local_copy_says_what_to_pass(monkeypatch):
    monkeypatch.delenv("RRM_DATA", raising=False)
    with pytest.raises(ValueError, match="path=.*root=.*RRM_DATA"):
        load_pairs("llmbar")


@needs_llmbar
def test_repository_checkout_layout(tmp_path):
    # A clone of princeton-nlp/LLMBar keeps each set as Dataset/LLMBar/<kind>/<name>/dataset.json.
    target = tmp_path / "Dataset" / "LLMBar" / "Adversarial" / "Manual" / "dataset.json"
    target.parent.mkdir(parents=True)
    target.write_text((LLMBAR / "Adversarial_Manual.json").read_text())
    pairs = load_pairs("llmbar", root=tmp_path, subset="Adversarial_Manual")
    assert as_tuples(pairs) == expected(target, "Adversarial_Manual")
