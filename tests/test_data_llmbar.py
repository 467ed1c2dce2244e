"""LLMBar and MT-Bench human judgements, on the real files shipped with rrmlib (byte-identical to
../shared/data/llmbar: tests/test_shipped_data.py)."""
import json
from pathlib import Path

import pytest

from rrmlib.data import load_pairs
from rrmlib.data.files import SHIPPED

LLMBAR = SHIPPED / "llmbar"
SIZES = {"Natural": 100, "Adversarial_Neighbor": 134, "Adversarial_GPTInst": 92, "Adversarial_GPTOut": 47,
         "Adversarial_Manual": 46}

def expected(path, subset):
    out = []
    for n, r in enumerate(json.loads(Path(path).read_text())):
        better, worse = (r["output_1"], r["output_2"]) if r["label"] == 1 else (r["output_2"], r["output_1"])
        out.append((f"{subset}-{n}", r["input"], better, worse, subset))
    return out


def as_tuples(pairs):
    return [(p.id, p.prompt, p.chosen, p.rejected, p.subset) for p in pairs]


def test_natural_is_100_pairs_equal_to_the_file():
    pairs = load_pairs("llmbar", root=LLMBAR)
    assert len(pairs) == 100
    assert as_tuples(pairs) == expected(LLMBAR / "Natural.json", "Natural")
    assert not any(p.tie for p in pairs)


@pytest.mark.parametrize("subset,n", SIZES.items())
def test_each_subset(subset, n):
    pairs = load_pairs("llmbar", root=LLMBAR, subset=subset)
    assert len(pairs) == n and {p.subset for p in pairs} == {subset}


def test_all_and_adversarial():
    assert len(load_pairs("llmbar", root=LLMBAR, subset="all")) == sum(SIZES.values()) == 419
    assert len(load_pairs("llmbar", root=LLMBAR, subset="Adversarial")) == 319
    with pytest.raises(ValueError, match="unknown subset"):
        load_pairs("llmbar", root=LLMBAR, subset="Adversarial_Nope")


def test_mt_bench_human_is_200_pairs():
    pairs = load_pairs("mt-bench-human", root=LLMBAR)
    assert len(pairs) == 200
    assert as_tuples(pairs) == expected(LLMBAR / "MT-Bench_human.json", "mt-bench-human")
    assert load_pairs("MT-Bench_human", path=LLMBAR / "MT-Bench_human.json") == pairs


def test_path_and_bare_path():
    by_path = load_pairs("llmbar", path=LLMBAR / "Natural.json")
    assert by_path == load_pairs("llmbar", root=LLMBAR) == load_pairs(LLMBAR / "Natural.json")


def test_rrm_data_environment_variable(monkeypatch, tmp_path):
    (tmp_path / "llmbar").symlink_to(LLMBAR)
    monkeypatch.setenv("RRM_DATA", str(tmp_path))
    pairs = load_pairs("llmbar", subset="Adversarial_GPTOut")
    assert len(pairs) == 47 and pairs.loaded["source"] == [str(tmp_path / "llmbar" / "Adversarial_GPTOut.json")]


def test_a_data_folder_without_llmbar_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("RRM_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*RRM_DATA.*unset RRM_DATA"):
        load_pairs("llmbar")


def test_repository_checkout_layout(tmp_path):
    # A clone of princeton-nlp/LLMBar keeps each set as Dataset/LLMBar/<kind>/<name>/dataset.json.
    target = tmp_path / "Dataset" / "LLMBar" / "Adversarial" / "Manual" / "dataset.json"
    target.parent.mkdir(parents=True)
    target.write_text((LLMBAR / "Adversarial_Manual.json").read_text())
    pairs = load_pairs("llmbar", root=tmp_path, subset="Adversarial_Manual")
    assert as_tuples(pairs) == expected(target, "Adversarial_Manual")
