"""The Python API on the real default models: analyze (dict / JSON / transcript / Conversation), analyze_many,
embed, options, and agreement with the CLI on the same input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

import copiloot

from conftest import FIXTURES, MODELS


def test_analyze_accepts_dict_json_string_and_conversation(copilot: copiloot.Copilot) -> None:
    text = (FIXTURES / "nl_webshop_bezorging.json").read_text(encoding="utf-8")
    as_dict = copilot.analyze(json.loads(text))
    as_json = copilot.analyze(text)
    as_conv = copilot.analyze(copiloot.Conversation.from_json(text))
    assert as_dict == as_json == as_conv
    assert as_dict.conversation_id == json.loads(text)["conversation_id"]
    assert as_dict.language == "nl"
    assert isinstance(as_dict, copiloot.Analysis)


def test_dutch_cancellation_transcript(copilot: copiloot.Copilot) -> None:
    text = (FIXTURES / "nl_telecom_opzegging.txt").read_text(encoding="utf-8")
    a = copilot.analyze(text, id="call-1")
    assert a.conversation_id == "call-1"
    assert a.language == "nl"
    assert a.top_intent == "cancel"
    intents = a.intents
    assert intents is not None
    cancel = next(i for i in intents["intents"] if i["intent"] == "cancel")
    assert cancel["turns"], "the cancel intent cites the turns that show it"
    assert cancel["name"] == "Opzeggen van contract of abonnement"  # Dutch name for a Dutch conversation
    trajectory = a.sentiment["customer_trajectory"]  # type: ignore[index]
    assert -1.0 <= trajectory["start"] <= 1.0 and -1.0 <= trajectory["end"] <= 1.0
    # Not run yet by this build: the summary and churn tasks are null, and so are the attributes.
    assert a.to_dict()["summary"] == a.summary
    assert a.to_dict()["churn"] == a.churn


def test_to_dict_and_to_json_round_trip(copilot: copiloot.Copilot) -> None:
    a = copilot.analyze((FIXTURES / "en_energy_billing.json").read_text(encoding="utf-8"))
    d = a.to_dict()
    assert d["schema_version"] == copiloot.SCHEMA_VERSION
    assert json.loads(a.to_json()) == d
    assert copiloot.Analysis.from_json(a.to_json(indent=2)) == a
    d["language"] = "changed"
    assert a.language == "en", "to_dict returns a copy"
    assert a["conversation_id"] == "en_energy_billing"
    assert "pii" in d, "redaction of outputs is on by default"
    # The customer disputes a bill that rests on an estimated meter reading.
    assert a.top_intent in ("meter_reading", "billing_question")


def test_same_analysis_as_the_cli(copilot: copiloot.Copilot, cli: Path) -> None:
    path = FIXTURES / "en_internet_outage.txt"
    out = subprocess.run(
        [str(cli), "analyze", str(path), "--models", str(MODELS)], capture_output=True, text=True, check=True
    )
    from_cli = json.loads(out.stdout)
    from_py = copilot.analyze(path.read_text(encoding="utf-8"), id=from_cli["conversation_id"]).to_dict()
    assert from_py["intents"]["primary"] == from_cli["intents"]["primary"]
    assert from_py["metrics"] == from_cli["metrics"]
    for a, b in zip(from_py["sentiment"]["turns"], from_cli["sentiment"]["turns"]):
        assert a["label"] == b["label"]
        assert a["score"] == pytest.approx(b["score"], abs=1e-4)


def test_analyze_many_keeps_order_and_matches_analyze(
    copilot: copiloot.Copilot, fixture_dicts: List[Dict[str, Any]]
) -> None:
    inputs = fixture_dicts + fixture_dicts[:5]
    # A generator works; batch_size=3 makes several parallel batches.
    results = copilot.analyze_many((c for c in inputs), batch_size=3)
    assert [r.conversation_id for r in results] == [c["id"] for c in inputs]  # type: ignore[union-attr]
    single = copilot.analyze(fixture_dicts[4])
    assert results[4] == single and results[12] == single


def test_analyze_many_errors_raise_or_return(copilot: copiloot.Copilot, fixture_dicts: List[Dict[str, Any]]) -> None:
    bad = {"id": "bad", "turns": [{"speaker": "alien", "text": "hi"}]}
    with pytest.raises(copiloot.InvalidInputError, match=r"conversations\[1\].*alien"):
        copilot.analyze_many([fixture_dicts[0], bad, fixture_dicts[1]])
    results = copilot.analyze_many([fixture_dicts[0], bad, fixture_dicts[1]], errors="return")
    assert isinstance(results[0], copiloot.Analysis) and isinstance(results[2], copiloot.Analysis)
    assert isinstance(results[1], copiloot.InvalidInputError)
    assert results[1].code == "invalid_input"


def test_embed_returns_normalised_numpy(copilot: copiloot.Copilot) -> None:
    texts = ["Ik wil mijn abonnement opzeggen", "I want to cancel my subscription", "Het regent vandaag"]
    v = copilot.embed(texts)
    assert isinstance(v, np.ndarray) and v.dtype == np.float32
    assert v.shape == (3, copilot.dim) == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 2] + 0.03, "the Dutch and English cancellation are closer than the weather"
    assert copilot.embed("één tekst").shape == (1, 384)
    assert copilot.embed([]).shape == (0, 384)


def test_conversation_type() -> None:
    c = copiloot.Conversation("c1", [("Klant", "Mijn pakket is niet gekomen"), ("Medewerker", "Ik kijk het na")], channel="chat")
    assert c.id == "c1" and len(c) == 2 and c.channel == "chat"
    assert c.turns == [("customer", "Mijn pakket is niet gekomen"), ("agent", "Ik kijk het na")]
    assert json.loads(c.to_json())["turns"][0]["speaker"] == "customer"
    t = copiloot.Conversation.from_transcript("[00:01] Klant: Hallo\nAgent: Goedemiddag", id="t")
    assert t.id == "t" and t.turns[0] == ("customer", "Hallo")
    d = copiloot.Conversation.from_dict({"conversation_id": 7, "messages": [{"role": "user", "content": "hi"}]})
    assert d.id == "7" and d.turns == [("customer", "hi")]


def test_taxonomy_and_redaction_options(tmp_path: Path) -> None:
    taxonomy = tmp_path / "two.toml"
    taxonomy.write_text(
        """version = 1
name = "two-intents"

[[intents]]
id = "parcel_missing"
name = { en = "Parcel missing", nl = "Pakket niet ontvangen" }
description = { en = "The customer did not receive a parcel.", nl = "De klant heeft een pakket niet ontvangen." }
[intents.examples]
en = ["My parcel never arrived", "Where is my package?"]
nl = ["Mijn pakket is niet aangekomen", "Waar blijft mijn bestelling?"]

[[intents]]
id = "new_phone"
name = { en = "Buy a phone", nl = "Telefoon kopen" }
description = { en = "The customer wants to buy a new phone.", nl = "De klant wil een nieuwe telefoon kopen." }
[intents.examples]
en = ["I want a new phone", "Which phones do you sell?"]
nl = ["Ik wil een nieuwe telefoon", "Welke telefoons verkopen jullie?"]
""",
        encoding="utf-8",
    )
    c = copiloot.Copilot(models=MODELS, taxonomy=taxonomy, redaction="off")
    a = c.analyze((FIXTURES / "nl_webshop_bezorging.json").read_text(encoding="utf-8"))
    assert a.top_intent == "parcel_missing"
    assert {i["intent"] for i in a.intents["intents"]} <= {"parcel_missing", "new_phone", "other"}  # type: ignore[index]
    assert "pii" not in a.to_dict(), "redaction off reports no PII spans"


def test_generator_rewrites_the_summary_note() -> None:
    c = copiloot.Copilot(models=MODELS, generator="default", max_tokens=24)
    a = c.analyze((FIXTURES / "en_internet_outage.txt").read_text(encoding="utf-8"), id="outage").to_dict()
    rewrite = a["summary"]["rewrite"]
    assert rewrite["text"], rewrite
    assert "smollm2" in a["models"]["generator"]
    # The rewrite keeps the grounded fields' evidence and checks its own claims.
    assert set(rewrite["evidence_turns"]) >= set(a["summary"]["reason"]["turns"])
    assert isinstance(rewrite["unsupported_claims"], list) and isinstance(rewrite["missing_facts"], list)


def test_every_top_level_field_is_an_attribute() -> None:
    """A field a new Rust task adds is readable without a change to the Python class."""
    a = copiloot.Analysis({"conversation_id": "c", "churn": {"score": 0.4}, "knowledge": [{"id": "kb-1"}]})
    assert a.churn == {"score": 0.4} == a["churn"]
    assert a.knowledge == [{"id": "kb-1"}]
    assert a.live_state is None
    with pytest.raises(AttributeError):
        a._private  # noqa: B018
