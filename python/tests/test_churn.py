"""Churn from Python on the real IBM Telco table (read in place from ../shared/data): train from a DataFrame,
save/load, predict, explain, evaluate — with the same model and numbers as `copiloot train/eval churn` on
the same CSV file — and typed errors for bad tables."""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pandas as pd
import pytest

import copiloot

from conftest import REPO

TELCO = REPO.parent / "shared" / "data" / "churn" / "telco" / "telco_churn_train.csv"
if not TELCO.is_file():  # worktrees sit next to shared/, clones of the repo too (CI)
    TELCO = Path("/work/shared/data/churn/telco/telco_churn_train.csv")

pytestmark = pytest.mark.skipif(
    not TELCO.is_file(), reason="the Telco table is not in ../shared/data/churn/telco/ (see shared/data/README.md)"
)


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return pd.read_csv(TELCO)


@pytest.fixture(scope="module")
def model(telco: pd.DataFrame) -> copiloot.ChurnModel:
    return copiloot.ChurnModel.train(telco)  # label `churn` found by the CLI's list; seed 42, 20 % held out


def run_cli(cli: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([str(cli), *args], capture_output=True, text=True, check=False)


def test_train_on_a_dataframe_is_accurate_calibrated_and_sensible(model: copiloot.ChurnModel) -> None:
    assert model.label == "churn" and model.kind == "tabular" and model.name == "tabular:churn"
    report = model.report
    assert report is not None
    assert (report["rows"], report["train_rows"], report["test_rows"]) == (4930, 3944, 986)
    # int columns are numbers, text columns one-hot: the same typing as the CLI on the CSV.
    assert "tenure" in report["numeric"] and "monthly_charges" in report["numeric"]
    assert "contract" in report["categorical"] and "payment_method" in report["categorical"]
    held = report["held_out"]
    assert held["roc_auc"] >= 0.80 and held["ece"] < 0.06 and held["brier"] < 0.16, held
    assert model.training["held_out_roc_auc"] == held["roc_auc"]
    coef = {(c["feature"], c.get("level")): c["coefficient"] for c in report["coefficients"]}
    assert coef[("contract", "Month-to-month")] > 0 > coef[("contract", "Two year")]
    assert coef[("tenure", None)] < 0


def test_same_model_and_numbers_as_the_cli_on_the_same_file(
    model: copiloot.ChurnModel, telco: pd.DataFrame, tmp_path: Path, cli: Path
) -> None:
    # `copiloot train churn` on the CSV fits exactly the model Python fitted on the DataFrame read from it.
    out = run_cli(cli, "train", "churn", "--data", str(TELCO), "--label", "churn", "--out", str(tmp_path / "cli"))
    assert out.returncode == 0, out.stderr
    from_cli = json.loads((tmp_path / "cli" / "churn.json").read_text(encoding="utf-8"))
    ours = model.to_dict()
    assert from_cli["features"] == ours["features"] and from_cli["intercept"] == ours["intercept"]
    held_line = next(line for line in out.stdout.splitlines() if line.startswith("ROC AUC"))
    assert float(held_line.split()[2]) == pytest.approx(model.report["held_out"]["roc_auc"], abs=5e-5)  # type: ignore[index]

    # `copiloot eval churn` on the model Python saved: the very same report as `evaluate`.
    model.save(tmp_path / "py")
    report_path = tmp_path / "eval.json"
    out = run_cli(
        cli, "eval", "churn", "--data", str(TELCO), "--label", "churn",
        "--model", str(tmp_path / "py"), "--report", str(report_path),
    )
    assert out.returncode == 0, out.stderr
    cli_report = json.loads(report_path.read_text(encoding="utf-8"))
    loaded = copiloot.ChurnModel.load(tmp_path / "py")
    ours_report = loaded.evaluate(telco)
    assert ours_report == cli_report
    assert ours_report["rows"] == 4930 and ours_report["churners"] == 1317
    assert len(ours_report["calibration"]) == 10 and [b["band"] for b in ours_report["bands"]] == ["low", "medium", "high"]
    # The in-memory model gives the same numbers (within float noise of the JSON round trip, see below).
    in_memory = model.evaluate(telco, label="churn")
    for key in ("roc_auc", "pr_auc", "brier", "log_loss", "ece"):
        assert in_memory[key] == pytest.approx(cli_report[key], abs=1e-12), key


def test_save_load_round_trip(model: copiloot.ChurnModel, telco: pd.DataFrame, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "churn.json").is_file()
    loaded = copiloot.ChurnModel.load(tmp_path / "m")
    again = copiloot.ChurnModel.load(tmp_path / "m" / "churn.json")  # the file itself works too
    assert loaded.to_dict() == again.to_dict() and loaded.report is None
    assert (loaded.name, loaded.label, loaded.features, loaded.bands) == (model.name, model.label, model.features, (0.3, 0.6))
    p, q = model.predict_proba(telco), loaded.predict_proba(telco)
    assert p.dtype == np.float64 and p.shape == (4930,)
    # Bit for bit: the model file is read back with serde_json's `float_roundtrip`.
    assert np.array_equal(q, again.predict_proba(telco))
    assert np.array_equal(p, q)
    assert loaded.evaluate(telco)["roc_auc"] == pytest.approx(model.evaluate(telco)["roc_auc"], abs=1e-12)


def test_predict_accepts_dicts_rows_and_missing_values(model: copiloot.ChurnModel, telco: pd.DataFrame) -> None:
    head = telco.head(20)
    p = model.predict_proba(head)
    records: List[Dict[str, Any]] = head.to_dict(orient="records")
    np.testing.assert_array_equal(model.predict_proba(records), p)
    np.testing.assert_array_equal(model.predict_proba({c: head[c].to_numpy() for c in head.columns}), p)
    # Columns the model does not read are ignored; the label is not needed to score.
    np.testing.assert_array_equal(model.predict_proba(head.drop(columns=["churn"]).assign(extra="x")), p)
    # Missing cells (NaN, None, pd.NA) count as average, in any dtype.
    gaps = head.astype({"contract": "string"}).copy()
    gaps.loc[0, "tenure"] = np.nan
    gaps.loc[1, "contract"] = pd.NA
    q = model.predict_proba(gaps)
    assert q[0] != p[0] and q[1] != p[1] and np.array_equal(q[2:], p[2:])
    assert model.predict_proba(head.head(0)).shape == (0,)


def test_explain_gives_bands_and_reasons_that_add_up(model: copiloot.ChurnModel, telco: pd.DataFrame) -> None:
    rows = model.explain(telco.head(2))
    full = rows[0]  # 7 months of fibre on a month-to-month contract: the classic leaver
    assert full["band"] == "high" and full["score"] == pytest.approx(model.predict_proba(telco.head(1))[0], abs=1e-15)
    features = [r["feature"] for r in full["reasons"]]
    assert {"tenure", "contract", "internet_service"} <= set(features[:4])
    logit = math.log(full["score"] / (1 - full["score"]))
    assert logit == pytest.approx(model.to_dict()["intercept"] + sum(r["contribution"] for r in full["reasons"]), abs=1e-9)
    assert rows[1]["band"] == "low"
    top = model.explain(telco.head(2), language="nl", top=3)
    assert [len(r["reasons"]) for r in top] == [3, 3]
    assert top[0]["reasons"][0]["text"] == "tenure is 7 (onder gemiddeld)"
    # Unseen categories and absent columns count as average and say so.
    odd = model.explain([{"tenure": 3, "contract": "Weekly"}])[0]
    assert any("unseen in training" in w for w in odd["warnings"])
    assert any("no column `payment_method`" in w for w in odd["warnings"])
    frame = pd.DataFrame(model.explain(telco.head(5), top=1))
    assert list(frame.columns[:3]) == ["score", "band", "reasons"] and len(frame) == 5


def test_options_of_the_cli(telco: pd.DataFrame) -> None:
    same = copiloot.ChurnModel.train(telco, seed=42)
    other = copiloot.ChurnModel.train(telco, seed=7)
    assert same.report["held_out"]["roc_auc"] != other.report["held_out"]["roc_auc"]  # type: ignore[index]
    everything = copiloot.ChurnModel.train(telco, label="churn", test_fraction=0.0, ignore=["total_charges"],
                                           categorical=["senior_citizen"], name="telco-all")
    report = everything.report
    assert report is not None and report["held_out"] is None and report["train_rows"] == 4930
    assert everything.name == "telco-all" and "total_charges" not in everything.features
    assert "senior_citizen" in report["categorical"]
    assert {"column": "total_charges", "reason": "ignored as asked"} in report["ignored"]


def test_training_releases_the_gil(telco: pd.DataFrame) -> None:
    from copiloot import _native
    from copiloot.churn import _columns

    names, columns = _columns(pd.concat([telco] * 4, ignore_index=True))  # 19,720 rows: a fit of ~0.4 s
    inside = threading.Event()
    done = threading.Event()

    def work() -> None:
        inside.set()
        _native.ChurnModel.train(names, columns, test_fraction=0.0)
        done.set()

    worker = threading.Thread(target=work)
    counts_during = 0
    worker.start()
    inside.wait()
    started = time.perf_counter()
    while not done.is_set():
        counts_during += 1  # pure Python: runs only while the worker does not hold the GIL
    elapsed = time.perf_counter() - started
    worker.join()
    # Held GIL (as while the cells are converted): a few 5 ms switch intervals; released: the whole fit.
    assert elapsed > 0.1, f"training took only {elapsed:.3f}s; the check needs a longer call"
    assert counts_during > 100_000, f"only {counts_during} iterations in {elapsed:.2f}s: the GIL was held"


def test_errors_are_typed_with_the_cli_message(telco: pd.DataFrame, tmp_path: Path, cli: Path) -> None:
    bad = telco.head(50).copy()
    bad.loc[3, "churn"] = "maybe"
    with pytest.raises(copiloot.InvalidInputError, match="not a yes/no value") as info:
        copiloot.ChurnModel.train(bad)
    assert info.value.code == "invalid_input" and "rows[3].churn" in str(info.value)
    # The CLI names the file and line instead of the row; the message after the location is the same.
    bad.to_csv(tmp_path / "bad.csv", index=False)
    out = run_cli(cli, "train", "churn", "--data", str(tmp_path / "bad.csv"), "--label", "churn", "--out", str(tmp_path / "m"))
    assert out.returncode == 2 and "line 5" in out.stderr
    assert str(info.value).split(": ", 1)[1] in out.stderr

    with pytest.raises(copiloot.InvalidInputError, match="no column `left_us`"):
        copiloot.ChurnModel.train(telco, label="left_us")
    with pytest.raises(copiloot.InvalidInputError, match="none of .* pass label=COLUMN"):
        copiloot.ChurnModel.train(telco.drop(columns=["churn"]))
    with pytest.raises(copiloot.InvalidInputError, match="no churners"):
        copiloot.ChurnModel.train(telco.assign(churn="No"))
    with pytest.raises(copiloot.InvalidInputError, match="no rows"):
        copiloot.ChurnModel.train(telco.head(0))
    with pytest.raises(copiloot.InvalidInputError, match="type Timestamp"):
        copiloot.ChurnModel.train(telco.assign(signup=pd.Timestamp("2024-01-01")))
    with pytest.raises(copiloot.InvalidInputError, match="not a finite number"):
        copiloot.ChurnModel.train(telco.assign(tenure=np.inf))
    with pytest.raises(copiloot.InvalidInputError, match="same length"):
        copiloot.ChurnModel.train({"tenure": [1, 2], "churn": ["Yes"]})
    with pytest.raises(copiloot.InvalidInputError, match="DataFrame") as info2:
        copiloot.ChurnModel.train(42)
    assert info2.value.code == "invalid_input"
    with pytest.raises(copiloot.ConfigError, match="test fraction 0.9"):
        copiloot.ChurnModel.train(telco, test_fraction=0.9)

    model = copiloot.ChurnModel.train(telco.head(400))
    typo = telco.head(5).astype({"tenure": object})
    typo.loc[2, "tenure"] = "abc"
    with pytest.raises(copiloot.InvalidInputError, match="not a number but the column is numeric"):
        model.predict_proba(typo)
    with pytest.raises(copiloot.InvalidInputError, match="no label column given"):
        model.evaluate(telco.drop(columns=["churn"]))
    with pytest.raises(copiloot.InvalidInputError, match="only churners"):
        model.evaluate(telco.assign(churn="Yes"))
    with pytest.raises(copiloot.IoError):
        copiloot.ChurnModel.load(tmp_path / "missing")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "churn.json").write_text('{"format": "copiloot-linear-head"}', encoding="utf-8")
    with pytest.raises(copiloot.ModelLoadError, match="not a copiloot churn model"):
        copiloot.ChurnModel.load(tmp_path / "other")
