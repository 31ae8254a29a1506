"""Tests for music_tagger.training.evaluation against scikit-learn's own metrics."""

import csv
import json
import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from music_tagger.training.evaluation import evaluate, format_table, write_results


@pytest.fixture
def random_data():
    rng = np.random.default_rng(0)
    y_true = (rng.random((60, 5)) < 0.3).astype(int)
    y_true[0] = 1  # every column has both classes
    y_true[1] = 0
    y_score = rng.random((60, 5)) + 0.5 * y_true
    return y_true, y_score


def test_per_tag_and_macro_equal_sklearn(random_data):
    y_true, y_score = random_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = evaluate(y_true, y_score, tags=list("abcde"))
    expected_roc = [roc_auc_score(y_true[:, j], y_score[:, j]) for j in range(5)]
    expected_pr = [average_precision_score(y_true[:, j], y_score[:, j]) for j in range(5)]
    assert [r["tag"] for r in results["per_tag"]] == list("abcde")
    np.testing.assert_allclose([r["roc_auc"] for r in results["per_tag"]], expected_roc)
    np.testing.assert_allclose([r["pr_auc"] for r in results["per_tag"]], expected_pr)
    assert [r["n_positive"] for r in results["per_tag"]] == list(y_true.sum(axis=0))
    assert results["roc_auc_macro"] == pytest.approx(roc_auc_score(y_true, y_score))
    assert results["pr_auc_macro"] == pytest.approx(average_precision_score(y_true, y_score))
    assert results["n_samples"] == 60


def test_micro_equals_sklearn(random_data):
    y_true, y_score = random_data
    results = evaluate(y_true, y_score)
    assert results["roc_auc_micro"] == pytest.approx(roc_auc_score(y_true, y_score, average="micro"))
    assert results["roc_auc_micro"] != pytest.approx(results["roc_auc_macro"])


def test_default_tag_names(random_data):
    results = evaluate(*random_data)
    assert [r["tag"] for r in results["per_tag"]] == [f"tag_{i}" for i in range(5)]


def test_single_class_columns_are_undefined_and_warned_once(random_data):
    y_true, y_score = random_data
    y_true = y_true.copy()
    y_true[:, 1] = 0
    y_true[:, 3] = 1
    with pytest.warns(UserWarning) as record:
        results = evaluate(y_true, y_score, tags=list("abcde"))
    messages = [str(w.message) for w in record]
    assert len(messages) == 1
    assert "b, d" in messages[0] and "2 tag" in messages[0]
    per_tag = results["per_tag"]
    assert math.isnan(per_tag[1]["roc_auc"]) and math.isnan(per_tag[1]["pr_auc"])
    assert math.isnan(per_tag[3]["roc_auc"]) and math.isnan(per_tag[3]["pr_auc"])
    assert per_tag[3]["n_positive"] == 60
    defined = [0, 2, 4]
    expected = np.mean([roc_auc_score(y_true[:, j], y_score[:, j]) for j in defined])
    assert results["roc_auc_macro"] == pytest.approx(expected)
    assert not math.isnan(results["roc_auc_micro"])


def test_all_columns_single_class_gives_nan_means():
    with pytest.warns(UserWarning):
        results = evaluate(np.zeros((4, 2)), np.ones((4, 2)))
    assert math.isnan(results["roc_auc_macro"])
    assert math.isnan(results["pr_auc_macro"])
    assert math.isnan(results["roc_auc_micro"])


@pytest.mark.parametrize(
    "y_true, y_score, match",
    [
        (np.zeros((4, 3)), np.zeros((4, 2)), r"same shape; got \(4, 3\) and \(4, 2\)"),
        (np.zeros((4, 3)), np.zeros((3, 3)), r"\(4, 3\) and \(3, 3\)"),
        (np.zeros(4), np.zeros(4), r"2-D .* \(4,\) and \(4,\)"),
        (np.zeros((1, 3)), np.zeros((1, 3)), "at least 2 samples"),
        (np.full((4, 2), 2), np.zeros((4, 2)), "binary"),
        (np.full((4, 2), np.nan), np.zeros((4, 2)), "binary"),
        (np.eye(4, 2), np.full((4, 2), np.nan), "finite"),
        (np.eye(4, 2), np.full((4, 2), np.inf), "finite"),
        (np.eye(4, 2), np.full((4, 2), "a"), "real numbers"),
    ],
)
def test_invalid_inputs_rejected(y_true, y_score, match):
    with pytest.raises(ValueError, match=match):
        evaluate(y_true, y_score)


def test_tag_count_must_match_columns():
    with pytest.raises(ValueError, match=r"3 tag names for 2 columns \(shape \(4, 2\)\)"):
        evaluate(np.eye(4, 2), np.zeros((4, 2)), tags=["a", "b", "c"])


def test_boolean_y_true_accepted(random_data):
    y_true, y_score = random_data
    a = evaluate(y_true.astype(bool), y_score)
    b = evaluate(y_true, y_score)
    assert a["roc_auc_macro"] == b["roc_auc_macro"]


def test_write_results_prefix_and_folder(tmp_path, random_data):
    y_true, y_score = random_data
    y_true = y_true.copy()
    y_true[:, 2] = 0
    with pytest.warns(UserWarning):
        results = evaluate(y_true, y_score, tags=list("abcde"))

    json_path, csv_path = write_results(results, tmp_path / "runs" / "eval")
    assert (json_path.name, csv_path.name) == ("eval.json", "eval.csv")
    loaded = json.loads(json_path.read_text())
    assert loaded["per_tag"][2]["roc_auc"] is None
    assert loaded["roc_auc_macro"] == pytest.approx(results["roc_auc_macro"])
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["tag"] for r in rows] == list("abcde")
    assert float(rows[0]["roc_auc"]) == pytest.approx(results["per_tag"][0]["roc_auc"])
    assert rows[2]["n_positive"] == "0"

    json_path, csv_path = write_results(results, tmp_path)
    assert json_path == tmp_path / "results.json" and csv_path.is_file()


def test_write_results_rejects_other_objects(tmp_path):
    with pytest.raises(ValueError, match="evaluate"):
        write_results({"roc_auc_macro": 0.5}, tmp_path / "x")


def test_format_table_sorted_by_roc_auc_with_undefined_last():
    y_true = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1], [0, 0, 0]])
    y_score = np.array([[0.2, 0.5, 0.9], [0.8, 0.5, 0.1], [0.6, 0.5, 0.8], [0.4, 0.5, 0.3]])
    with pytest.warns(UserWarning, match="never"):
        results = evaluate(y_true, y_score, tags=["worst", "never", "best"])
    lines = format_table(results).splitlines()
    assert lines[0].split() == ["tag", "ROC-AUC", "PR-AUC", "n_pos"]
    assert [ln.split()[0] for ln in lines[1:]] == ["best", "worst", "never", "macro"]
    assert lines[1].split()[1] == "1.000"
    assert lines[3].split()[1] == "nan"
    assert lines[4].split()[1] == f"{results['roc_auc_macro']:.3f}"
