"""Training from Python on real data (Banking77, read in place from ../shared/data): fit, save, load,
predict and evaluate an intent head, with the same numbers as `copiloot eval intent --model DIR`."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path
from typing import List, Tuple

import pandas as pd
import pytest

import copiloot

from conftest import MODELS, REPO

BANKING77 = REPO.parent / "shared" / "data" / "intent" / "banking77"
if not BANKING77.is_dir():  # worktrees sit next to shared/, clones of the repo too (CI)
    BANKING77 = Path("/work/shared/data/intent/banking77")
LABELS = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed"]


def sample(split: str, per_label: int) -> Tuple[List[str], List[str]]:
    texts: List[str] = []
    labels: List[str] = []
    counts = {label: 0 for label in LABELS}
    with open(BANKING77 / f"{split}.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            label = row["category"]
            if label in counts and counts[label] < per_label:
                counts[label] += 1
                texts.append(row["text"])
                labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def data() -> Tuple[Tuple[List[str], List[str]], Tuple[List[str], List[str]]]:
    return sample("train", 20), sample("test", 15)


def test_train_save_load_predict_evaluate(
    copilot: copiloot.Copilot, data: Tuple[Tuple[List[str], List[str]], Tuple[List[str], List[str]]], tmp_path: Path, cli: Path
) -> None:
    (train_texts, train_labels), (test_texts, test_labels) = data
    # pandas Series work as well as lists.
    frame = pd.DataFrame({"text": train_texts, "label": train_labels})
    head = copiloot.IntentHead.train(copilot, frame["text"], frame["label"])
    assert head.labels == sorted(LABELS)
    assert head.training["examples"] == 80 and head.training["train_accuracy"] > 0.95
    head.save(tmp_path / "head")
    assert (tmp_path / "head" / "head.safetensors").is_file() and (tmp_path / "head" / "head.json").is_file()
    loaded = copiloot.IntentHead.load(tmp_path / "head")
    assert loaded.labels == head.labels and loaded.encoder == head.encoder == copilot.encoder_id

    predictions = loaded.predict(copilot, ["My card has not arrived yet", "Someone stole my card!"])
    assert [p[0] for p in predictions] == ["card_arrival", "lost_or_stolen_card"]
    assert all(0.25 < p[1] <= 1.0 for p in predictions)
    assert head.predict(copilot, test_texts) == loaded.predict(copilot, test_texts)

    report = loaded.evaluate(copilot, test_texts, test_labels)
    assert report["examples"] == 60 and report["accuracy"] > 0.85
    assert {c["label"] for c in report["per_class"]} == set(LABELS)

    # The CLI scores the saved head on the same file with the same numbers.
    test_csv = tmp_path / "test.csv"
    pd.DataFrame({"text": test_texts, "label": test_labels}).to_csv(test_csv, index=False)
    report_path = tmp_path / "report.json"
    subprocess.run(
        [str(cli), "eval", "intent", "--data", str(test_csv), "--model", str(tmp_path / "head"),
         "--models", str(MODELS), "--report", str(report_path)],
        check=True, capture_output=True,
    )
    from_cli = json.loads(report_path.read_text(encoding="utf-8"))
    assert from_cli["accuracy"] == pytest.approx(report["accuracy"], abs=1e-12)
    assert from_cli["macro_f1"] == pytest.approx(report["macro_f1"], abs=1e-12)
    assert from_cli["per_class"] == report["per_class"]


def test_cross_validation_picks_an_l2(copilot: copiloot.Copilot, data: Tuple[Tuple[List[str], List[str]], Tuple[List[str], List[str]]]) -> None:
    (texts, labels), _ = data
    head = copiloot.IntentHead.train(copilot, texts, labels, cv=3, class_weight="none")
    assert head.training["l2"] in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
    assert head.training["class_weight"] == "none"


def test_training_errors(copilot: copiloot.Copilot, tmp_path: Path) -> None:
    with pytest.raises(copiloot.InvalidInputError, match="label"):
        copiloot.IntentHead.train(copilot, ["a", "b"], ["x", "x"])  # one class
    with pytest.raises(copiloot.InvalidInputError, match="2 texts but 1 labels"):
        copiloot.IntentHead.train(copilot, ["a", "b"], ["x"])
    with pytest.raises(copiloot.InvalidInputError, match="empty"):
        copiloot.IntentHead.train(copilot, ["hallo", "  "], ["x", "y"])
    with pytest.raises(copiloot.ConfigError, match="class_weight"):
        copiloot.IntentHead.train(copilot, ["a", "b"], ["x", "y"], class_weight="heavy")
    with pytest.raises(copiloot.CopilootError) as info:
        copiloot.IntentHead.load(tmp_path / "missing")
    assert info.value.code in ("io", "model_not_found", "model_load")


def test_evaluate_matches_hand_computed_values() -> None:
    r = copiloot.evaluate(["a", "a", "a", "b", "b", "c"], ["a", "a", "b", "b", "b", "other"])
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["macro_f1"] == pytest.approx(1.6 / 3, abs=1e-9)
    assert r["most_confused"][0] == {"gold": "a", "predicted": "b", "count": 1}
    with pytest.raises(copiloot.InvalidInputError):
        copiloot.evaluate(["a"], [])
