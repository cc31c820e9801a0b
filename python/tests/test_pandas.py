"""copiloot.pandas.analyze_frame: one row per turn in, one row per conversation out, on the real models."""

from __future__ import annotations

import math
from typing import Any, Dict, List

import pandas as pd
import pytest

import copiloot
from copiloot.pandas import OUTPUT_COLUMNS, analyze_frame, output_meta, row_of

from conftest import MODELS

# Speaker names as contact-center exports write them, mapped onto the fixture's roles.
EXPORT_NAMES = {"customer": "Klant", "klant": "Klant", "agent": "Agent", "medewerker": "Medewerker", "bot": "Bot"}


def turns_frame(conversations: List[Dict[str, Any]]) -> pd.DataFrame:
    """The fixtures as an export: one row per turn, call id, role, text and a wall-clock time."""
    rows = []
    start = pd.Timestamp("2026-03-02 09:00:00")
    for n, c in enumerate(conversations):
        for i, t in enumerate(c["turns"]):
            rows.append(
                {
                    "call_id": c["id"],
                    "role": EXPORT_NAMES[t["speaker"]],
                    "utterance": t["text"],
                    "at": start + pd.Timedelta(minutes=30 * n, seconds=7 * i),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def turns(fixture_dicts: List[Dict[str, Any]]) -> pd.DataFrame:
    return turns_frame(fixture_dicts)


@pytest.fixture(scope="module")
def analysed(turns: pd.DataFrame, copilot: copiloot.Copilot) -> pd.DataFrame:
    return analyze_frame(turns, conversation_id="call_id", speaker="role", text="utterance", copilot=copilot)


def test_one_row_per_conversation(analysed: pd.DataFrame, fixture_dicts: List[Dict[str, Any]]) -> None:
    assert list(analysed.columns) == ["call_id", *OUTPUT_COLUMNS]
    assert list(analysed["call_id"]) == [c["id"] for c in fixture_dicts]
    assert list(analysed["turns"]) == [len(c["turns"]) for c in fixture_dicts]
    by_id = analysed.set_index("call_id")
    assert by_id.loc["nl_telecom_opzegging", "top_intent"] == "cancel"
    assert by_id.loc["en_energy_billing", "top_intent"] in ("meter_reading", "billing_question")
    assert by_id.loc["nl_telecom_opzegging", "language"] == "nl"
    assert "retention_offer" in by_id.loc["nl_telecom_opzegging", "alerts"]
    assert analysed["knowledge"].isna().all()  # no knowledge base: no suggestions column values
    assert analysed["error"].isna().all()
    assert analysed["top_intent_score"].between(0, 1).all()
    assert analysed["customer_sentiment_start"].between(-1, 1).all()
    assert analysed["customer_sentiment_end"].between(-1, 1).all()


def test_same_as_analyze(analysed: pd.DataFrame, copilot: copiloot.Copilot, fixture_dicts: List[Dict[str, Any]]) -> None:
    for row, conv in zip(analysed.itertuples(index=False), fixture_dicts):
        direct = copilot.analyze(conv).to_dict()
        assert row.analysis["intents"] == direct["intents"]
        assert row.customer_sentiment_end == pytest.approx(direct["sentiment"]["customer_trajectory"]["end"], abs=1e-6)


def test_summary_and_churn_columns_follow_the_analysis(analysed: pd.DataFrame) -> None:
    # Filled from analysis["summary"]["text"], ["churn"]["score"] / ["band"] when the tasks ran, else empty.
    for row in analysed.itertuples(index=False):
        summary, churn = row.analysis.get("summary"), row.analysis.get("churn")
        if summary is None:
            assert row.summary is None
        else:
            assert row.summary == summary["text"]
        if churn is None:
            assert math.isnan(row.churn_score) and row.churn_band is None
        else:
            assert row.churn_score == pytest.approx(churn["score"]) and row.churn_band == churn["band"]
        assert row.alerts == [a["id"] for a in row.analysis["alerts"]]


def test_row_of_reads_summary_and_churn_when_present(analysed: pd.DataFrame) -> None:
    analysis = dict(analysed["analysis"].iloc[0])
    analysis["summary"] = {"text": "Klant wil opzeggen; medewerker biedt korting aan.", "resolution": "partial"}
    analysis["churn"] = {"score": 0.81, "band": "high", "reasons": []}
    row = row_of(analysis)
    assert row["summary"] == "Klant wil opzeggen; medewerker biedt korting aan."
    assert (row["churn_score"], row["churn_band"]) == (0.81, "high")


def test_shuffled_rows_with_timestamps_give_the_same_result(turns: pd.DataFrame, analysed: pd.DataFrame) -> None:
    shuffled = turns.sample(frac=1.0, random_state=7).reset_index(drop=True)
    out = analyze_frame(shuffled, conversation_id="call_id", speaker="role", text="utterance", timestamp="at", models=str(MODELS))
    out = out.set_index("call_id").loc[list(analysed["call_id"])].reset_index()
    assert list(out["top_intent"]) == list(analysed["top_intent"])
    pd.testing.assert_series_equal(out["customer_sentiment_end"], analysed["customer_sentiment_end"])
    # Turn times arrive as seconds since the first turn of each conversation.
    first = out["analysis"].iloc[0]
    assert first["metrics"]["duration_seconds"] == pytest.approx(7 * (first["metrics"]["turns"] - 1))


def test_errors_coerce_and_raise(copilot: copiloot.Copilot) -> None:
    df = pd.DataFrame(
        {
            "conversation_id": ["a", "a", "b", "b"],
            "speaker": ["klant", "agent", "klant", "marsbewoner"],
            "text": ["Mijn factuur is te hoog", "Ik kijk het na", "Hallo", "Blub"],
        }
    )
    out = analyze_frame(df, copilot=copilot, errors="coerce")
    assert list(out["conversation_id"]) == ["a", "b"]
    assert out["error"].iloc[0] is None and out["top_intent"].iloc[0] == "billing_question"
    assert "marsbewoner" in out["error"].iloc[1] and math.isnan(out["customer_sentiment_end"].iloc[1])
    with pytest.raises(copiloot.InvalidInputError, match="conversation 'b'.*marsbewoner"):
        analyze_frame(df, copilot=copilot)
    with pytest.raises(copiloot.InvalidInputError, match="no column"):
        analyze_frame(df, text="message", copilot=copilot)


def test_empty_frame_and_meta() -> None:
    empty = pd.DataFrame({"conversation_id": [], "speaker": [], "text": []})
    out = analyze_frame(empty)
    pd.testing.assert_frame_equal(out, output_meta())
    assert list(output_meta("call_id").columns) == ["call_id", *OUTPUT_COLUMNS]
