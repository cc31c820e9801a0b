"""Errors: the exception hierarchy defined in Rust, the CLI's messages, and no PanicException on bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, List

import pytest

import copiloot

from conftest import MODELS


def test_hierarchy() -> None:
    for cls in (
        copiloot.InvalidInputError,
        copiloot.ModelNotFoundError,
        copiloot.ModelLoadError,
        copiloot.InstallError,
        copiloot.InferenceError,
        copiloot.ConfigError,
        copiloot.IoError,
    ):
        assert issubclass(cls, copiloot.CopilootError)
    assert issubclass(copiloot.InputTooLargeError, copiloot.InvalidInputError)
    assert issubclass(copiloot.ChecksumError, copiloot.ModelLoadError)
    assert issubclass(copiloot.CopilootError, Exception)
    assert copiloot.CopilootError.__module__ == "copiloot"


def test_malformed_json_has_the_cli_message(copilot: copiloot.Copilot, cli: Path, tmp_path: Path) -> None:
    bad = '{"id": "x", "turns": [}'
    with pytest.raises(copiloot.InvalidInputError) as info:
        copilot.analyze(bad)
    assert info.value.code == "invalid_input"
    message = str(info.value)
    assert "malformed JSON" in message and "line 1" in message
    path = tmp_path / "bad.json"
    path.write_text(bad, encoding="utf-8")
    out = subprocess.run([str(cli), "analyze", str(path), "--models", str(MODELS)], capture_output=True, text=True)
    assert out.returncode == 2
    # The CLI names the file as the source; the rest of the message is the same text.
    assert message.split(": ", 1)[1].split(": ", 1)[1] in out.stderr


@pytest.mark.parametrize(
    ("conversation", "needle"),
    [
        ({"id": "x", "turns": []}, "no turns"),
        ({"id": "x", "turns": [{"speaker": "alien", "text": "hi"}]}, "alien"),
        ({"turns": [{"speaker": "agent", "text": "hi"}]}, "id"),
        ({"id": "x", "channel": "pigeon", "turns": [{"speaker": "agent", "text": "hi"}]}, "unknown channel"),
        ("just some words without a speaker", "Speaker: text"),
    ],
)
def test_invalid_conversations(copilot: copiloot.Copilot, conversation: Any, needle: str) -> None:
    with pytest.raises(copiloot.InvalidInputError, match=needle):
        copilot.analyze(conversation)


def test_too_large_is_an_input_error(copilot: copiloot.Copilot) -> None:
    turns = [{"speaker": "customer", "text": "hoi"}] * 20_000
    with pytest.raises(copiloot.InputTooLargeError) as info:
        copilot.analyze({"id": "big", "turns": turns})
    assert info.value.code == "input_too_large"
    assert isinstance(info.value, copiloot.InvalidInputError)


def test_not_json_serialisable(copilot: copiloot.Copilot) -> None:
    with pytest.raises(copiloot.InvalidInputError, match="JSON-serialisable"):
        copilot.analyze({"id": "x", "turns": [{"speaker": "agent", "text": object()}]})


def test_model_errors(tmp_path: Path) -> None:
    with pytest.raises(copiloot.ModelNotFoundError, match="no such file or folder") as info:
        copiloot.Copilot(models=MODELS, encoder=str(tmp_path / "nope"))
    assert info.value.code == "model_not_found"
    empty = tmp_path / "empty-model"
    empty.mkdir()
    with pytest.raises(copiloot.CopilootError) as info2:
        copiloot.Copilot(models=MODELS, encoder=str(empty))
    assert info2.value.code in ("model_not_found", "model_load")
    with pytest.raises(copiloot.CopilootError) as info3:
        copiloot.Copilot(models=tmp_path)
    assert "copiloot models install" in str(info3.value) or info3.value.code in ("io", "config")


def test_option_errors(copilot: copiloot.Copilot) -> None:
    with pytest.raises(copiloot.ConfigError, match="redaction"):
        copiloot.Copilot(models=MODELS, redaction="some")
    with pytest.raises(copiloot.ConfigError, match="role"):
        copilot.embed(["x"], role="key")
    with pytest.raises(copiloot.ModelNotFoundError, match="smollm2"):
        copiloot.Copilot(models=MODELS, generator="smollm2")
    with pytest.raises(copiloot.ConfigError):
        copilot.analyze_many([], errors="ignore")


# Strange inputs of every kind: each is an Analysis or a CopilootError, never a PanicException (which
# derives from BaseException, so `pytest.raises(Exception)` would not catch it).
WEIRD: List[Any] = [
    "",
    "   ",
    "{",
    "{}",
    "[]",
    "null",
    None,
    42,
    3.5,
    [],
    ["a", "b"],
    {"id": None, "turns": None},
    {"id": "x", "turns": [{}]},
    {"id": "x", "turns": [{"speaker": "agent"}]},
    {"id": "x", "turns": [{"speaker": "agent", "text": ""}]},
    {"id": "x", "turns": [{"speaker": "agent", "text": "ok", "timestamp": "99:99:99"}]},
    {"id": "x", "turns": [{"speaker": "agent", "text": "ok", "timestamp": -1}]},
    {"id": "x" * 100_000, "turns": [{"speaker": "agent", "text": "ok"}]},
    {"id": "x", "turns": [{"speaker": "klant", "text": "\u0000\ud7ff\U0001f600" * 50}]},
    {"id": "x", "turns": [{"speaker": "klant", "text": "𒀀𒀁𒀂𒀃"}]},
    {"id": "x", "turns": [{"speaker": "klant", "text": "a" * 200_000}]},
    "Klant:",
    "[99:99] Klant: hallo",
    "\ufeff{\"id\": 1, \"turns\": [{\"speaker\": \"agent\", \"text\": \"hi\"}]}",
    "Klant: " + "NL91ABNA0417164300 " * 200,
]


def test_no_panic_on_weird_input(copilot: copiloot.Copilot) -> None:
    for value in WEIRD:
        try:
            copilot.analyze(value)
        except copiloot.CopilootError:
            pass
    results = copilot.analyze_many(WEIRD, errors="return")
    assert len(results) == len(WEIRD)
    assert all(isinstance(r, (copiloot.Analysis, copiloot.CopilootError)) for r in results)
    assert sum(isinstance(r, copiloot.CopilootError) for r in results) >= 15
