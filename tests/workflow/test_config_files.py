"""A study is its config file: what dry runs plan from the files given (``-n`` only, seconds)."""

import re
import shutil

from conftest import ROOT, run_snakemake

#: a study that shares nothing with config.yaml (its explainers are two of config.yaml's ten)
STUDY = """\
datasets:
  tiles: {kind: shapes, size: 16, n_train: 60, n_eval: 4, models: [lenet]}
  digs: {kind: digits, n_eval: 4, models: [lenet, resnet8]}
models:
  lenet: {arch: lenet, epochs: 1}
  resnet8: {arch: resnet8, epochs: 1}
explainers:
  grad:
  edge:
metrics:
  average_drop:
"""


def _planned(proc) -> tuple[set, set, set]:
    """(datasets, explainers, rules) of the jobs a dry run lists (explainers without their
    variants: ``grad+blur`` is the sparsity study's blurred copy of ``grad``)."""
    out = proc.stdout + proc.stderr
    datasets = set(re.findall(r"wildcards: dataset=(\w+)", out))
    explainers = {e.partition("+")[0] for e in re.findall(r"explainer=([\w+]+)", out)}
    rules = set(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):", out, flags=re.M))
    return datasets, explainers, rules


def test_configfile_is_the_whole_study_and_config_yaml_is_not_merged(tmp_path):
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")  # as in a run from the repository
    study = tmp_path / "study.yaml"
    study.write_text(STUDY)
    datasets, explainers, rules = _planned(run_snakemake(tmp_path, study, "-n"))
    assert datasets == {"tiles", "digs"}
    assert explainers == {"grad", "edge"}  # none of config.yaml's other eight
    # nor config.yaml's second-paper metrics (mutual verification, Shapley values, masking)
    assert "train_model" in rules and not rules & {"mutual_verification", "plot_mutual_verification",
                                                   "plot_shapley_bias", "non_robustness_table"}
    # --config key=value still applies on top of the file given
    proc = run_snakemake(tmp_path, study, "-n", "--config", "datasets={digs: {models: [lenet]}}")
    assert "results/digs/models/lenet.pt" in proc.stdout and "results/digs/models/resnet8.pt" not in proc.stdout


def test_config_yaml_is_the_study_when_no_file_is_given(tmp_path):
    (tmp_path / "config.yaml").write_text(STUDY)
    datasets, explainers, _ = _planned(run_snakemake(tmp_path, None, "-n"))
    assert datasets == {"tiles", "digs"} and explainers == {"grad", "edge"}


def test_duplicate_key_in_the_study_stops_the_dry_run(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY + "  average_drop: {real: false}\n")  # line 12
    proc = run_snakemake(tmp_path, study, "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert str(study) in out and "metrics.average_drop appears twice" in out and "line 12" in out
    assert not (tmp_path / "results").exists()


def test_yaml_error_in_config_yaml_names_file_and_line(tmp_path):
    (tmp_path / "config.yaml").write_text(STUDY.replace("  edge:\n", "\tedge:\n"))  # a tab on line 9
    proc = run_snakemake(tmp_path, None, "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "config file config.yaml, line" in out and "invalid YAML" in out
    assert "config file config.yaml, line 9, column 1" in out
