"""The knowledge assistant from Python: index a few Dutch articles with the real default encoder, search
with a question and with a conversation, suggestions in analyses and live updates, incremental
re-indexing, and typed errors."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Tuple

import pytest

import copiloot
from conftest import MODELS, REPO

ARTICLES = REPO / "tests" / "fixtures" / "knowledge" / "nl_polderlink"
# A small subset keeps indexing (the encoder in the dev profile) to a few seconds.
SUBSET = [
    "abonnement/opzeggen.md",
    "factuur/iban-wijzigen.md",
    "internet/wifi-traag.md",
    "mobiel/esim-activeren.md",
    "storingen/geen-mobiel-bereik.md",
    "verhuizen/verhuizen-internet.md",
]


def copy_articles(folder: Path, names: List[str]) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTICLES / name, folder / name)
    return folder


class Built(NamedTuple):
    kb: copiloot.KnowledgeBase
    progress: List[Tuple[int, int]]
    #: Iterations of a pure-Python loop while `index` ran in another thread, and the seconds it took.
    spins: int
    seconds: float


@pytest.fixture(scope="module")
def built(copilot: copiloot.Copilot, tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("kb")
    source = copy_articles(root / "articles", SUBSET)
    calls: List[Tuple[int, int]] = []
    result: List[copiloot.KnowledgeBase] = []

    def work() -> None:
        result.append(
            copiloot.KnowledgeBase.index(
                source, root / "help.kb", copilot=copilot, progress=lambda done, total: calls.append((done, total))
            )
        )

    worker = threading.Thread(target=work)
    spins = 0
    started = time.perf_counter()
    worker.start()
    while worker.is_alive():
        spins += 1  # pure Python: runs only while the indexing thread does not hold the GIL
    worker.join()
    assert result, "indexing failed (see the thread's exception above)"
    return Built(result[0], calls, spins, time.perf_counter() - started)


@pytest.fixture(scope="module")
def kb(built: Built) -> copiloot.KnowledgeBase:
    return built.kb


@pytest.fixture(scope="module")
def kb_copilot(kb: copiloot.KnowledgeBase) -> copiloot.Copilot:
    return copiloot.Copilot(models=MODELS, kb=kb.path)


def check_highlight(s: Dict[str, Any]) -> None:
    h = s["highlight"]
    assert h["sentence"] and h["sentence"] in s["passage"]
    assert s["passage"].encode("utf-8")[h["start"] : h["end"]].decode("utf-8") == h["sentence"]


def test_index_reports_what_it_did(built: Built, copilot: copiloot.Copilot) -> None:
    kb, calls = built.kb, built.progress
    report = kb.report
    assert report is not None
    assert report["articles"] == kb.articles == 6
    assert kb.passages > kb.articles  # articles are cut along their headings
    assert report["passages"] == report["embedded"] == kb.passages
    assert report["reused"] == 0 and report["removed"] == 0
    assert calls[0] == (0, kb.passages) and calls[-1] == (kb.passages, kb.passages)
    assert kb.encoder_id == copilot.encoder_id
    assert "abonnement/opzeggen" in kb.article_ids() and "internet/wifi-traag" in kb.article_ids()
    assert kb.path is not None and Path(kb.path).name == "help.kb"
    assert "articles=6" in repr(kb)


def test_index_releases_the_gil(built: Built) -> None:
    # Held GIL: the loop gets a few switch intervals (5 ms each). Released: it spins the whole call.
    assert built.seconds > 0.2, f"indexing took only {built.seconds:.3f}s; the check needs a longer call"
    assert built.spins > 100_000, f"only {built.spins} iterations in {built.seconds:.2f}s: the GIL was held"


def test_question_finds_the_cancellation_article(kb: copiloot.KnowledgeBase, copilot: copiloot.Copilot) -> None:
    found = kb.search("ik wil mijn abonnement stopzetten", copilot=copilot)
    assert found, "no suggestion for a plain cancellation question"
    top = found[0]
    assert top["article_id"] == "abonnement/opzeggen"
    assert top["title"] == "Abonnement opzeggen"
    assert top["url"] == "https://www.polderlink.nl/help/abonnement/opzeggen"
    check_highlight(top)
    assert top["score"] >= 0.88 and 0.0 <= top["lexical"] <= 1.0
    assert "turn" not in top
    assert len(found) <= 3 and len({s["article_id"] for s in found}) == len(found)
    assert [s["score"] for s in found] == sorted((s["score"] for s in found), reverse=True)


def test_conversation_query_reads_the_earlier_turns(kb: copiloot.KnowledgeBase, copilot: copiloot.Copilot) -> None:
    turns = [
        {"speaker": "klant", "text": "mijn wifi is echt zo traag de laatste tijd"},
        {"speaker": "agent", "text": "Heeft u dat op alle apparaten of alleen op één?"},
        {"speaker": "customer", "text": "op alles, ook de laptop. het ding staat in de meterkast trouwens, maakt dat uit?"},
    ]
    found = kb.search(turns, copilot=copilot)
    assert found and found[0]["article_id"] == "internet/wifi-traag"
    check_highlight(found[0])
    # The last turn alone does not say it is about wifi: nothing passes the default threshold.
    assert kb.search(turns[-1]["text"], copilot=copilot) == []
    # The same conversation as (speaker, text) pairs and as a Conversation gives the same answer.
    pairs = [(t["speaker"], t["text"]) for t in turns]
    assert kb.search(pairs, copilot=copilot) == found
    assert kb.search(copiloot.Conversation("c07", pairs), copilot=copilot) == found


def test_search_options(kb: copiloot.KnowledgeBase, copilot: copiloot.Copilot) -> None:
    question = "Hoe verander ik mijn IBAN voor de automatische incasso?"
    one = kb.search(question, copilot=copilot, top_k=1, min_score=0.0)
    assert [s["article_id"] for s in one] == ["factuur/iban-wijzigen"]
    assert len(kb.search(question, copilot=copilot, top_k=5, min_score=0.0)) == 5
    for retriever in ("lexical", "dense"):
        top = kb.search(question, copilot=copilot, retriever=retriever, min_score=0.0)[0]
        assert top["article_id"] == "factuur/iban-wijzigen", retriever
    # A greeting asks nothing: the default threshold keeps the assistant quiet.
    assert kb.search("Goedemiddag!", copilot=copilot) == []


def test_loaded_kb_loads_its_own_encoder_once(kb: copiloot.KnowledgeBase) -> None:
    assert kb.path is not None
    loaded = copiloot.KnowledgeBase.load(kb.path, models=MODELS)
    assert loaded.report is None
    assert (loaded.articles, loaded.passages, loaded.encoder_id) == (kb.articles, kb.passages, kb.encoder_id)
    found = loaded.search("Hoe activeer ik mijn eSIM?")
    assert found and found[0]["article_id"] == "mobiel/esim-activeren"
    assert loaded.search("Hoe activeer ik mijn eSIM?") == found


def test_analyze_with_kb_cites_the_customer_turn(kb_copilot: copiloot.Copilot) -> None:
    assert kb_copilot.knowledge_base is not None and kb_copilot.knowledge_base.articles == 6
    analysis = kb_copilot.analyze(
        "Klant: Goedemiddag, ik wil mijn abonnement opzeggen. Hoe doe ik dat?\n"
        "Medewerker: Dat kan ik voor u regelen.\n"
        "Klant: Bedankt, fijne dag verder."
    )
    knowledge = analysis.knowledge
    assert knowledge, analysis.to_json(indent=2)
    assert knowledge[0]["article_id"] == "abonnement/opzeggen"
    assert knowledge[0]["turn"] == 0  # the customer's question, not the agent's answer or the thanks
    assert all(s["turn"] in (0, 2) for s in knowledge)
    check_highlight(knowledge[0])


def test_copilot_without_kb_has_no_knowledge(copilot: copiloot.Copilot) -> None:
    assert copilot.knowledge_base is None
    assert copilot.analyze("Klant: Ik wil opzeggen.\nMedewerker: Dat regel ik.").knowledge is None


def test_pandas_frames_get_a_knowledge_column(kb: copiloot.KnowledgeBase, kb_copilot: copiloot.Copilot) -> None:
    import pandas as pd

    from copiloot.pandas import analyze_frame

    df = pd.DataFrame(
        {
            "call": ["a", "a", "b"],
            "speaker": ["klant", "agent", "klant"],
            "text": [
                "Hoi, ik ga verhuizen. Kan ik mijn internet meenemen naar mijn nieuwe adres?",
                "Zeker, dat regel ik graag voor u.",
                "Goedemiddag!",
            ],
        }
    )
    out = analyze_frame(df, conversation_id="call", copilot=kb_copilot).set_index("call")
    assert out.loc["a", "knowledge"] == [s["article_id"] for s in out.loc["a", "analysis"]["knowledge"]]
    assert out.loc["a", "knowledge"][0] == "verhuizen/verhuizen-internet"
    assert out.loc["b", "knowledge"] == []  # a greeting asks nothing
    # The same through the per-process copilot cache, given the index path.
    again = analyze_frame(df, conversation_id="call", models=str(MODELS), kb=str(kb.path)).set_index("call")
    assert again.loc["a", "knowledge"] == out.loc["a", "knowledge"]


def test_live_update_carries_knowledge(kb_copilot: copiloot.Copilot) -> None:
    session = kb_copilot.live("live-kb", channel="chat")
    first = session.push("klant", "Hoi, ik ga verhuizen. Kan ik mijn internet meenemen naar mijn nieuwe adres?")
    assert first.knowledge and first.knowledge[0]["article_id"] == "verhuizen/verhuizen-internet"
    assert first.knowledge[0]["turn"] == 0
    check_highlight(first.knowledge[0])
    assert session.push("agent", "Zeker, dat regel ik graag voor u.").knowledge == []
    analysis = session.close()
    assert analysis.knowledge is not None
    assert analysis.knowledge[0]["article_id"] == "verhuizen/verhuizen-internet"


def test_reindex_reuses_unchanged_articles(
    kb: copiloot.KnowledgeBase, copilot: copiloot.Copilot, tmp_path: Path
) -> None:
    assert kb.path is not None
    out = tmp_path / "copy.kb"
    shutil.copy(kb.path, out)
    source = copy_articles(tmp_path / "articles", SUBSET[:5])  # one article left out
    calls: List[Tuple[int, int]] = []
    again = copiloot.KnowledgeBase.index(
        source, out, copilot=copilot, progress=lambda done, total: calls.append((done, total))
    )
    report = again.report
    assert report is not None
    assert report["embedded"] == 0 and report["reused"] == again.passages > 0
    assert report["removed"] == 1 and again.articles == 5
    assert calls == [(0, 0)]
    assert "verhuizen/verhuizen-internet" not in again.article_ids()

    # A changed article is embedded again, the others keep their vectors.
    with open(source / "storingen/geen-mobiel-bereik.md", "a", encoding="utf-8") as f:
        f.write("\nBel bij aanhoudende problemen met 0800-1234.\n")
    changed = copiloot.KnowledgeBase.index(source, out, copilot=copilot).report
    assert changed is not None
    assert 0 < changed["embedded"] < changed["passages"]
    assert changed["embedded"] + changed["reused"] == changed["passages"] and changed["removed"] == 0


def test_progress_exception_is_raised_after_indexing(copilot: copiloot.Copilot, tmp_path: Path) -> None:
    source = copy_articles(tmp_path / "articles", ["mobiel/esim-activeren.md"])

    def stop(done: int, total: int) -> None:
        raise KeyError("stop")

    with pytest.raises(KeyError):
        copiloot.KnowledgeBase.index(source, tmp_path / "one.kb", copilot=copilot, progress=stop)
    assert copiloot.KnowledgeBase.load(tmp_path / "one.kb").articles == 1


def test_errors_are_typed(kb: copiloot.KnowledgeBase, copilot: copiloot.Copilot, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(copiloot.InvalidInputError, match="no articles found") as e:
        copiloot.KnowledgeBase.index(empty, tmp_path / "empty.kb", copilot=copilot)
    assert e.value.code == "invalid_input"

    garbage = tmp_path / "garbage.kb"
    garbage.write_bytes(b"this is not an index")
    with pytest.raises(copiloot.InvalidInputError, match="not a copiloot knowledge base"):
        copiloot.KnowledgeBase.load(garbage)
    assert kb.path is not None
    truncated = tmp_path / "truncated.kb"
    truncated.write_bytes(Path(kb.path).read_bytes()[:-100])
    with pytest.raises(copiloot.InvalidInputError, match="truncated or damaged"):
        copiloot.KnowledgeBase.load(truncated)
    with pytest.raises(copiloot.InvalidInputError, match="truncated or damaged"):
        copiloot.Copilot(models=MODELS, kb=truncated)
    with pytest.raises(copiloot.IoError):
        copiloot.KnowledgeBase.load(tmp_path / "missing.kb")

    with pytest.raises(copiloot.InvalidInputError, match="no customer turn"):
        kb.search([{"speaker": "agent", "text": "Hoe kan ik u helpen?"}], copilot=copilot)
    with pytest.raises(copiloot.InvalidInputError, match="unknown speaker"):
        kb.search([("robot", "Hallo")], copilot=copilot)
    with pytest.raises(copiloot.InvalidInputError, match="turns\\[0\\]"):
        kb.search([42], copilot=copilot)  # type: ignore[list-item]
    with pytest.raises(copiloot.ConfigError, match="retriever"):
        kb.search("opzeggen", copilot=copilot, retriever="fancy")
    with pytest.raises(copiloot.ConfigError, match="top_k"):
        kb.search("opzeggen", copilot=copilot, top_k=0)
    with pytest.raises(copiloot.InvalidInputError, match="kb"):
        copiloot.Copilot(models=MODELS, kb=42)  # type: ignore[arg-type]


def test_kb_of_another_encoder_is_refused(copilot: copiloot.Copilot, tmp_path: Path) -> None:
    source = copy_articles(tmp_path / "articles", ["storingen/geen-mobiel-bereik.md"])
    other = copiloot.KnowledgeBase.index(source, tmp_path / "minilm.kb", encoder=str(MODELS / "all-minilm-l6-v2"))
    assert other.encoder_id != copilot.encoder_id
    # Searched with its own encoder (loaded by the knowledge base) it answers.
    assert other.search("no mobile coverage", min_score=0.0)[0]["article_id"] == "storingen/geen-mobiel-bereik"
    with pytest.raises(copiloot.ConfigError, match="built with encoder"):
        other.search("ik wil opzeggen", copilot=copilot)
    with pytest.raises(copiloot.ConfigError, match="built with encoder"):
        copiloot.Copilot(models=MODELS, kb=other)


def test_the_copilots_intents_favour_articles_tagged_with_them(
    kb: copiloot.KnowledgeBase, copilot: copiloot.Copilot
) -> None:
    # "What does it cost to stop now?" names no cancellation; the first turn's `cancel` intent does, and
    # `abonnement/opzeggen` is tagged with it (front matter `intents: [cancel]`).
    turns = [
        ("klant", "Ik wil er vanaf, ik heb een goedkoper aanbod gevonden bij een ander."),
        ("agent", "Wat vervelend dat u weg wilt. Om welk abonnement gaat het?"),
        ("klant", "Mijn mobiel. Wat kost het als ik nu al stop?"),
    ]
    found = kb.search(turns, copilot=copilot, min_score=0.0, top_k=6)
    cancel = next(s for s in found if s["article_id"] == "abonnement/opzeggen")
    assert cancel["intent"] == "cancel"
    assert all("intent" not in s for s in found if s["article_id"] != "abonnement/opzeggen")
    # With the bonus turned off the article keeps its own score.
    off = kb.search(turns, copilot=copilot, min_score=0.0, top_k=6, intent_weight=0.0)
    plain = next(s for s in off if s["article_id"] == "abonnement/opzeggen")
    assert "intent" not in plain and plain["score"] < cancel["score"]
