import ast
from pathlib import Path

import pytest

from rrmlib.cli import merged_params, parse_value, ran_as_asked
from rrmlib.params import SPECS, ParameterError, check, defaults, differing

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_pass():
    want = {k: (float(v) if isinstance(v, float) else v) for k, v in defaults("pairwise").items()}
    assert check("pairwise", {}) == {**want, "max_new_tokens": 128}  # the embedded judge's budget


def test_budget_is_the_papers_for_a_named_judge_and_the_demos_for_the_embedded_one():
    assert check("pairwise", {"model": "org/judge"})["max_new_tokens"] == 8192
    assert check("pairwise", {"backend": "openai", "base_url": "http://h/v1", "model": "m"})["max_new_tokens"] == 8192
    assert check("pairwise", {})["max_new_tokens"] == 128
    assert check("pairwise", {"max_new_tokens": 512})["max_new_tokens"] == 512


def test_the_parameters_given_are_those_that_differ_from_what_the_notebook_fills_in():
    """What a run prints as its parameters given (``rrm`` passes every value): a judge named is
    given (a run of `-p backend openai -p model tiny-judge` once lost its judge this way: the
    judge was compared with itself); values equal to the notebook's defaults, or to the budget
    it resolves for that judge, are not."""
    p = check("pairwise", {"backend": "openai", "model": "tiny-judge", "base_url": "http://127.0.0.1:8000/v1",
                           "limit": 4, "seed": 0, "order": "shuffle"})
    assert differing("pairwise", p) == {"backend", "model", "base_url", "limit"}
    assert differing("pairwise", check("pairwise", {"model": None, "limit": 2})) == {"limit"}
    named = check("knockout", {"model": "/judges/RRM-7B", "backend": "vllm", "max_new_tokens": 8192})
    assert differing("knockout", named) == {"model", "backend"}  # 8192: the paper's budget for a named judge
    assert differing("knockout", {**named, "max_new_tokens": 128}) == {"model", "backend", "max_new_tokens"}


def test_a_finished_run_of_other_parameters_than_asked_is_refused(tmp_path):
    """The guard behind the class of bug above: whatever loses or changes a value on its way to
    the notebook, the run's own meta.json says what it ran with, and a difference fails the run
    (its meta.json removed, so the folder is not a finished run)."""
    import json

    meta = tmp_path / "meta.json"
    ran = {"backend": "hf", "model": None, "seed": 0, "subsets": ["math"], "limit": 8}
    meta.write_text(json.dumps({"params": ran}))
    ran_as_asked(tmp_path, {"backend": "hf", "seed": 0, "subsets": ("math",), "limit": 8, "out_dir": str(tmp_path)})
    assert meta.exists()
    with pytest.raises(RuntimeError, match=r"backend='hf' where 'openai' was asked; model=None where 'm' was"):
        ran_as_asked(tmp_path, {"backend": "openai", "model": "m", "seed": 0})
    assert not meta.exists()
    # a default asked for, where the run took another value (a parameters cell edited in JupyterLab)
    meta.write_text(json.dumps({"params": ran}))
    with pytest.raises(RuntimeError, match=r"limit=8 where None was asked"):
        ran_as_asked(tmp_path, {"limit": None})


def test_relative_paths_resolve_against_the_given_base(tmp_path):
    (tmp_path / "models" / "mine").mkdir(parents=True)
    p = check("pairwise", {"data_path": "data/x.parquet", "store": "runs/j.sqlite", "model": "models/mine",
                           "out_dir": "/abs/out"}, base=tmp_path)
    assert p["data_path"] == str(tmp_path / "data/x.parquet") and p["store"] == str(tmp_path / "runs/j.sqlite")
    assert p["model"] == str(tmp_path / "models/mine") and p["out_dir"] == "/abs/out"
    assert check("pairwise", {"model": "org/hub-model"}, base=tmp_path)["model"] == "org/hub-model"
    assert check("elo_accuracy", {"matches": ["a/m.parquet", "/b.json"]}, base=tmp_path)["matches"] == \
        [str(tmp_path / "a/m.parquet"), "/b.json"]


def test_unknown_injected_name_is_refused():
    before = {"rrmlib", "_names_before"}
    values = {**defaults("pairwise"), "rrmlib": 1, "temprature": 0.0}
    with pytest.raises(ParameterError, match="unknown parameter.*temprature"):
        check("pairwise", values, names_before=before)


@pytest.mark.parametrize("name,value,message", [
    ("round", "4", "'round' must be int"),
    ("round", 4.0, "'round' must be int"),
    ("votes", True, "'votes' must be int"),
    ("temperature", "hot", "'temperature' must be float"),
    ("order", "random", "must be one of"),
    ("unparseable", "coin", "must be one of"),
    ("dataset", None, "'dataset' must be str"),
])
def test_ill_typed_values_are_refused(name, value, message):
    with pytest.raises(ParameterError, match=message):
        check("pairwise", {name: value})


def test_int_accepted_as_float_and_none_for_optional():
    p = check("pairwise", {"temperature": 1, "limit": None, "model": None})
    assert p["temperature"] == 1.0 and isinstance(p["temperature"], float)


def test_cli_values_and_files(tmp_path):
    assert [parse_value(v) for v in ["4", "0.6", "None", "True", "GPQA"]] == [4, 0.6, None, True, "GPQA"]
    f = tmp_path / "a.yaml"
    f.write_text("dataset: GPQA\nround: 2\n")
    p = merged_params("pairwise", [str(f)], [("round", "4")])
    assert p["dataset"] == "GPQA" and p["round"] == 4
    with pytest.raises(ParameterError, match="unknown parameter.*rounds"):
        merged_params("pairwise", [], [("rounds", "4")])


def test_a_name_plays_one_role_in_every_notebook():
    """``params.names(role=...)`` answers for all notebooks at once (the report's settings, the
    run id): it holds only while a name that several notebooks declare has one role in all."""
    roles = {}
    for notebook, spec in SPECS.items():
        for name, p in spec.items():
            roles.setdefault(name, {})[notebook] = p.role
    assert {n: r for n, r in roles.items() if len(set(r.values())) > 1} == {}


@pytest.mark.parametrize("notebook", sorted(SPECS))
def test_defaults_live_in_one_place(notebook):
    """The notebook's parameters cell assigns nothing: the defaults are rrmlib.params.SPECS alone,
    so editing or saving the notebook cannot make papermill and `rrm run` disagree. The cell is
    there for papermill's injection and for a person to set a parameter."""
    src = (ROOT / "notebooks" / f"{notebook}.py").read_text()
    assert src.count('# %% tags=["parameters"]\n') == 1
    cell = src.split('# %% tags=["parameters"]\n', 1)[1].split("\n# %%", 1)[0]
    assert ast.parse(cell).body == []  # comments only
    assert f'rrmlib.params.in_notebook("{notebook}", globals(), _names_before)' in src
    assert f'_names_before = rrmlib.params.fresh("{notebook}", globals())' in src


def test_a_rerun_of_the_cells_forgets_what_the_last_run_left():
    """In a live kernel: a run with dataset set, then the parameters cell emptied and the cells
    run again: the second run is the default dataset, said to be the default."""
    from rrmlib.params import fresh, in_notebook

    kernel = {"__name__": "__main__"}
    before = fresh("pairwise", kernel)
    kernel["dataset"] = "llmbar"  # the parameters cell
    assert in_notebook("pairwise", kernel, before)["dataset"] == "llmbar"
    kernel["scoring"] = "judgebench"  # left behind by the first run, under a parameter's name
    before = fresh("pairwise", kernel)  # cell 1 again; the parameters cell now empty
    p = in_notebook("pairwise", kernel, before)
    assert p["dataset"] == "demo" and p["scoring"] is None


@pytest.mark.parametrize("values,message", [
    ({"limit": -1}, "'limit' must be >= 0"),
    ({"votes": 0}, "'votes' must be >= 1"),
    ({"api_key_env": "sk-abc123"}, "NAME of the environment variable"),
    ({"base_url": "http://u:secret@h:8000/v1"}, "must not carry credentials"),
])
def test_bounds_and_secrets_are_refused(values, message):
    with pytest.raises(ParameterError, match=message):
        check("pairwise", values)


@pytest.mark.parametrize("values", [
    {"api_key_env": "hf_AbCdEfGhIjKlMnOpQrStUvWx"},
    {"api_key_env": "gsk_abc123def456ghi789"},
    {"api_key_env": "sk_live_abc"},
    {"api_key_env": "AKIAIOSFODNN7EXAMPLE"},
    {"api_key_env": "xZ9kQ2mN8pL4rT6vB1cD3fG5"},
    {"base_url": "http://h:8000/v1?api_key=abc"},
    {"base_url": "http://h:8000/v1?token=abc"},
    {"base_url": "http://h:8000/v1#access_token=abc"},
    {"base_url": "http://h:8000/v1,http://g:8000/v1?key=1"},
    {"base_url": "http://h:8000/sk-abcdef123456/v1"},
])
def test_token_shaped_secrets_are_refused(values):
    with pytest.raises(ParameterError, match="api_key_env|base_url"):
        check("pairwise", values)


def test_a_key_pasted_for_its_name_is_refused(monkeypatch):
    monkeypatch.setenv("MY_PROVIDER_KEY", "plainlookingbutlongkey")
    with pytest.raises(ParameterError, match=r"value of \$MY_PROVIDER_KEY"):
        check("pairwise", {"api_key_env": "plainlookingbutlongkey"})


@pytest.mark.parametrize("values", [{"api_key_env": "OPENAI_API_KEY"}, {"api_key_env": "HF_TOKEN"},
                                    {"api_key_env": "PROVIDER_API_KEY"},
                                    {"base_url": "http://127.0.0.1:8000/v1,http://gpu-node-2:8000/v1"},
                                    {"base_url": "https://api.provider.example/v1"}])
def test_ordinary_names_and_urls_pass(values):
    check("pairwise", values)


@pytest.mark.parametrize("typed, value", [("false", False), ("False", False), ("no", False), ("0", False),
                                          ("true", True), ("TRUE", True), ("yes", True), ("1", True)])
def test_booleans_as_people_type_them(typed, value):
    assert check("pairwise", {"reasoning": typed})["reasoning"] is value
    assert check("pairwise", {"progress": typed})["progress"] is value


def test_none_typed_for_a_path_is_none_not_a_file_named_none(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = merged_params("pairwise", [], [("pairs_file", "none"), ("data_path", "null"), ("out_dir", "None")])
    assert (p["pairs_file"], p["data_path"], p["out_dir"]) == (None, None, None)
    assert merged_params("pairwise", [], [("data_path", "nonesuch.jsonl")])["data_path"] == str(tmp_path / "nonesuch.jsonl")


@pytest.mark.parametrize("typed", ["none", "None", "null", "NULL", ""])
def test_none_as_people_type_it(typed):
    p = check("pairwise", {"limit": typed, "reasoning": typed, "model": typed})
    assert p["limit"] is None and p["reasoning"] is None and p["model"] is None


def test_words_that_are_not_booleans_are_still_refused():
    with pytest.raises(ParameterError, match="'reasoning' must be bool"):
        check("pairwise", {"reasoning": "maybe"})
    with pytest.raises(ParameterError, match="'order' must be one of"):
        check("pairwise", {"order": "none"})  # not optional: "none" is not None here


def test_cli_and_papermill_spellings_agree():
    for typed in ("false", "False", "none", "None", "true"):
        assert merged_params("pairwise", [], [("reasoning", typed)]) == check("pairwise", {"reasoning": typed})


def test_rrm_resolves_typed_paths_against_the_shell_and_leaves_defaults_to_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = merged_params("pairwise", [], [("data_path", "x.parquet")])
    assert p["data_path"] == str(tmp_path / "x.parquet")
    assert p["store"] == "runs/judgments.sqlite"  # the notebook resolves it against the project root


@pytest.mark.parametrize("url", ["http://GpuNode01.Cluster.local:8000/v1",
                                 "https://api.example/v1/models/Meta-Llama-3.1-70B-Instruct/x"])
def test_ordinary_hosts_and_model_paths_are_not_mistaken_for_keys(url):
    check("pairwise", {"base_url": url})


# -- one declaration per parameter: every list the project keeps is derived from it (issue 22) --------

def test_every_parameter_is_classified():
    """Each parameter says whether it can change a number (its role), the paper's value where the
    protocol fixes one, and which backends read it; the classification is checked here against
    facts outside params.py."""
    from rrmlib.backends.base import Sampling
    from rrmlib.params import BACKENDS, NO_PAPER, ROLES, names, paper_values

    for notebook, spec in SPECS.items():
        for name, p in spec.items():
            assert p.role in ROLES and set(p.backends) <= set(BACKENDS), (notebook, name)
            if p.role != "number":  # a value that changes no number cannot be the paper's
                assert p.paper is NO_PAPER, (notebook, name)
    # where a run writes never changes what it computes, and is left out of the run id
    assert names(role="placement") == {"out_dir", "store", "progress"}
    # the paper's sampling is the backends' default sampling
    judge = paper_values("pairwise")
    assert (judge["temperature"], judge["top_p"], judge["max_new_tokens"]) == \
        (Sampling().temperature, Sampling().top_p, Sampling().max_new_tokens)
    # every notebook that runs a judge fixes the same judge settings
    shared = {k for k in set(SPECS["knockout"]) & set(SPECS["pairwise"])
              if SPECS["knockout"][k].judge and SPECS["pairwise"][k].judge}
    assert {k: v for k, v in paper_values("knockout").items() if k in shared} == \
        {k: v for k, v in judge.items() if k in shared} and "temperature" in shared


@pytest.mark.parametrize("backend, cls", [("hf", "rrmlib.backends.hf:HFBackend"),
                                          ("vllm", "rrmlib.backends.vllm_backend:VLLMBackend"),
                                          ("openai", "rrmlib.backends.openai_backend:OpenAIBackend"),
                                          ("classifier", "rrmlib.backends.classifier:ClassifierBackend")])
def test_backend_options_are_what_each_backend_takes(backend, cls):
    """The options derived from the declarations are keyword arguments of the backend's
    constructor (read from its signature, not from params.py)."""
    import importlib
    import inspect

    from rrmlib.params import backend_options

    module, name = cls.split(":")
    taken = set(inspect.signature(getattr(importlib.import_module(module), name).__init__).parameters) - {"self"}
    p = check("pairwise", {"backend": backend, "base_url": "http://127.0.0.1:1/v1", "model": "m"})
    options = backend_options(p)
    assert "model" in options and set(options) <= taken, set(options) - taken


def test_the_scoring_choices_are_the_benchmarks_that_score_their_own_way():
    """params.py cannot import the data's modules (it sits below them): its list of scoring rules
    is checked against the rules the benchmarks register."""
    from rrmlib.data.registry import scorings

    import rrmlib.data  # noqa: F401 (registers every source)

    assert sorted(SPECS["pairwise"]["scoring"].choices) == scorings()
