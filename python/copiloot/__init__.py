"""copiloot for Python: analyse contact-center conversations with local models (intent, sentiment,
summary, churn), in Dutch and English.

    >>> import copiloot
    >>> copilot = copiloot.Copilot()                      # models from ./models or $COPILOOT_MODELS
    >>> a = copilot.analyze("Klant: Ik wil opzeggen.\\nMedewerker: Dat regel ik.")
    >>> a.top_intent, a.to_dict()["sentiment"]["customer_trajectory"]["end"]

The work runs in Rust (``copiloot._native``) with the GIL released; this module gives it a Pythonic
shape: :class:`Analysis` objects, NumPy embeddings, batches of any iterable, :class:`LiveSession` for a
conversation analysed while it happens, :class:`KnowledgeBase` for suggestions from your own articles
(``copiloot.knowledge``), ``copiloot.pandas``, and
:class:`ChurnModel` trained on DataFrames (``copiloot.churn``).
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Type, TypeVar, Union

import numpy as np

from copiloot import _native
from copiloot._native import (
    SCHEMA_VERSION,
    ChecksumError,
    ConfigError,
    Conversation,
    CopilootError,
    InferenceError,
    InputTooLargeError,
    InstallError,
    InvalidInputError,
    IoError,
    ModelLoadError,
    ModelNotFoundError,
)
from copiloot.churn import ChurnModel
from copiloot.knowledge import KnowledgeBase

__version__: str = _native.__version__

__all__ = [
    "SCHEMA_VERSION",
    "Analysis",
    "ChecksumError",
    "ChurnModel",
    "ConfigError",
    "Conversation",
    "ConversationLike",
    "Copilot",
    "CopilootError",
    "InferenceError",
    "InputTooLargeError",
    "InstallError",
    "IntentHead",
    "InvalidInputError",
    "IoError",
    "KnowledgeBase",
    "LiveSession",
    "LiveUpdate",
    "ModelLoadError",
    "ModelNotFoundError",
    "evaluate",
]

#: What ``analyze`` accepts: a parsed :class:`Conversation`, a dict in the input format
#: (``copiloot schema input``), or a string holding a JSON object or a ``Speaker: text`` transcript.
ConversationLike = Union[Conversation, Dict[str, Any], str]

PathLike = Union[str, "os.PathLike[str]"]


_Record = TypeVar("_Record", bound="_JsonRecord")


class _JsonRecord:
    """A JSON object from the Rust core with attribute access: the shared base of :class:`Analysis` and
    :class:`LiveUpdate`."""

    __slots__ = ("_data",)

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = data

    @classmethod
    def from_json(cls: Type[_Record], text: str) -> _Record:
        return cls(json.loads(text))

    def to_dict(self) -> Dict[str, Any]:
        """A deep copy as plain Python values."""
        return copy.deepcopy(self._data)

    def to_json(self, indent: Optional[int] = None) -> str:
        return json.dumps(self._data, ensure_ascii=False, indent=indent)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, name: str) -> Any:
        """Any other top-level field, e.g. of a task added to the Rust pipeline after this class was
        written (``None`` when there is no such field), so new tasks need no change here."""
        if name.startswith("_"):
            raise AttributeError(name)
        return self._data.get(name)


class Analysis(_JsonRecord):
    """Everything copiloot concludes about one conversation (the CLI's Analysis JSON).

    Attributes mirror the top-level keys; task fields are ``None`` until their task runs.
    """

    __slots__ = ()

    @property
    def conversation_id(self) -> str:
        return str(self._data["conversation_id"])

    @property
    def language(self) -> Optional[str]:
        return self._data.get("language")

    @property
    def metrics(self) -> Dict[str, Any]:
        return dict(self._data.get("metrics") or {})

    @property
    def intents(self) -> Optional[Dict[str, Any]]:
        return self._data.get("intents")

    @property
    def sentiment(self) -> Optional[Dict[str, Any]]:
        return self._data.get("sentiment")

    @property
    def summary(self) -> Optional[Dict[str, Any]]:
        return self._data.get("summary")

    @property
    def churn(self) -> Optional[Dict[str, Any]]:
        return self._data.get("churn")

    @property
    def alerts(self) -> Optional[List[Dict[str, Any]]]:
        """Moments the agent should act on (``id``, ``message``, cited ``turns``)."""
        return self._data.get("alerts")

    @property
    def knowledge(self) -> Optional[List[Dict[str, Any]]]:
        """Suggestions from the copilot's knowledge base for the customer's questions, each citing its
        ``turn`` (``None`` without a knowledge base); see ``copiloot.knowledge``."""
        return self._data.get("knowledge")

    @property
    def warnings(self) -> List[str]:
        return list(self._data.get("warnings") or [])

    @property
    def top_intent(self) -> Optional[str]:
        """The primary intent id (``cancel_subscription``, ``other`` ...), ``None`` without intents."""
        intents = self.intents
        return intents.get("primary") if intents else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Analysis) and self._data == other._data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Analysis(conversation_id={self.conversation_id!r}, language={self.language!r}, "
            f"top_intent={self.top_intent!r})"
        )


def _with_context(err: CopilootError, where: str) -> CopilootError:
    """The same exception class and code, its message prefixed with which input failed."""
    new = type(err)(f"{where}: {err}")
    new.code = str(getattr(err, "code", ""))
    return new


class Copilot:
    """Loads the models once (a few seconds); then analyses conversations and embeds texts.

    :param models: the models folder (default ``$COPILOOT_MODELS``, else ``./models`` of the project).
    :param encoder: a folder in Hugging Face layout or a hub id ``org/name[@revision]`` (default: the
        catalog's multilingual-e5-small).
    :param generator: a local LLM that rewrites each summary's note (``summary["rewrite"]``): a ``.gguf``
        file, a folder holding one, a hub file ``org/name:file.gguf``, or ``"default"`` (the catalog's
        SmolLM2). ``None`` (the default): the grounded note only.
    :param max_tokens: the most new tokens per rewrite.
    :param taxonomy: an intents TOML file replacing ``models/taxonomy/intents.toml``.
    :param batch_size: turns per encoder forward pass.
    :param redaction: ``"outputs"`` (PII spans reported, default), ``"everything"`` (the models only see
        masked turns) or ``"off"``.
    :param kb: a :class:`KnowledgeBase` or the path of an index file: every customer turn is searched in
        it, ``Analysis.knowledge`` and ``LiveUpdate.knowledge`` list what fits. It must have been built
        with this copilot's encoder (else :class:`ConfigError`).
    :param kb_top_k: suggestions per customer turn at most.
    :param kb_min_score: the score threshold (``None``: the core's default for the default encoder).
    :param kb_retriever: ``"hybrid"`` (default), ``"lexical"`` or ``"dense"``.

    A Copilot is thread-safe; its methods release the GIL, so threads run concurrently.
    """

    def __init__(
        self,
        models: Optional[PathLike] = None,
        encoder: Optional[str] = None,
        generator: Optional[str] = None,
        taxonomy: Optional[PathLike] = None,
        batch_size: Optional[int] = None,
        redaction: str = "outputs",
        max_tokens: int = 160,
        kb: Optional[Union[KnowledgeBase, PathLike]] = None,
        kb_top_k: int = 3,
        kb_min_score: Optional[float] = None,
        kb_retriever: str = "hybrid",
    ) -> None:
        native_kb: Any = kb  # anything else: the native side raises InvalidInputError
        if isinstance(kb, KnowledgeBase):
            native_kb = kb.native
        elif isinstance(kb, (str, os.PathLike)):
            native_kb = os.fspath(kb)
        self._native = _native.Copilot(
            models=os.fspath(models) if models is not None else None,
            encoder=encoder,
            taxonomy=os.fspath(taxonomy) if taxonomy is not None else None,
            batch_size=batch_size,
            redaction=redaction,
            generator=generator,
            max_tokens=max_tokens,
            kb=native_kb,
            kb_top_k=kb_top_k,
            kb_min_score=kb_min_score,
            kb_retriever=kb_retriever,
        )

    @property
    def native(self) -> _native.Copilot:
        """The underlying ``copiloot._native.Copilot``."""
        return self._native

    @property
    def encoder_id(self) -> str:
        return self._native.encoder_id

    @property
    def dim(self) -> int:
        return self._native.dim

    @property
    def models_dir(self) -> str:
        return os.fspath(self._native.models_dir)

    @property
    def knowledge_base(self) -> Optional[KnowledgeBase]:
        """The knowledge base the copilot searches (``None`` without one); its searches use this
        copilot's encoder."""
        native = self._native.knowledge_base
        return KnowledgeBase(native) if native is not None else None

    def analyze(self, conversation: ConversationLike, id: Optional[str] = None) -> Analysis:
        """Analyse one conversation. ``id`` names a transcript string (JSON carries its own id)."""
        return Analysis.from_json(self._native.analyze(conversation, id))

    def analyze_many(
        self,
        conversations: Iterable[ConversationLike],
        batch_size: int = 256,
        errors: str = "raise",
    ) -> List[Union[Analysis, CopilootError]]:
        """Analyse any iterable of conversations, ``batch_size`` at a time, each batch in parallel on all
        cores with the GIL released. Results come in input order.

        :param errors: ``"raise"`` raises the first failure (its message names the input's position);
            ``"return"`` puts the exception object in the failed input's place.
        """
        if errors not in ("raise", "return"):
            raise ConfigError(f'unknown errors={errors!r}; use "raise" or "return"')
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        out: List[Union[Analysis, CopilootError]] = []
        batch: List[ConversationLike] = []

        def flush() -> None:
            start = len(out)
            for i, r in enumerate(self._native.analyze_many(batch)):
                if isinstance(r, CopilootError):
                    if errors == "raise":
                        raise _with_context(r, f"conversations[{start + i}]") from r
                    out.append(r)
                else:
                    out.append(Analysis.from_json(r))
            batch.clear()

        for c in conversations:
            batch.append(c)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        return out

    def embed(self, texts: Union[str, Sequence[str]], role: str = "query") -> "np.ndarray[Any, np.dtype[np.float32]]":
        """L2-normalised sentence vectors, shape ``(len(texts), dim)``, float32. ``role`` picks the
        encoder's prompt (``"query"``, as turns are embedded; ``"passage"``; ``"none"``)."""
        if isinstance(texts, str):
            texts = [texts]
        buf, rows, dim = self._native.embed([str(t) for t in texts], role)
        return np.frombuffer(buf, dtype=np.float32).reshape(rows, dim)

    def live(
        self,
        id: str,
        *,
        channel: Optional[str] = None,
        language: Optional[str] = None,
        customer: Optional[Dict[str, Any]] = None,
        parties: Optional[Dict[str, str]] = None,
    ) -> "LiveSession":
        """A :class:`LiveSession` on this copilot's models: analyse a conversation while it happens."""
        return LiveSession(
            self, id, channel=channel, language=language, customer=customer, parties=parties
        )

    def __repr__(self) -> str:
        return f"Copilot(encoder={self.encoder_id!r}, models={self.models_dir!r})"


class LiveUpdate(_JsonRecord):
    """What one pushed turn changed (the CLI's ``analyze --live`` update line, without ``event``): the
    turn's own ``intent`` and ``sentiment``, the conversation's state so far (``primary_intent``,
    ``intents``, ``trajectory``, ``summary``, ``churn`` and ``churn_change``), the ``alerts`` that
    fired with this turn (``cleared``: ids of alerts whose condition no longer holds), and with a
    knowledge base the ``knowledge`` suggestions for this turn.
    """

    __slots__ = ()

    @property
    def turn(self) -> int:
        """Position of the turn just added (what alerts and summary fields cite)."""
        return int(self._data["turn"])

    @property
    def speaker(self) -> str:
        return str(self._data["speaker"])

    @property
    def text(self) -> str:
        """The turn as it may be shown: personal data masked unless redaction is off."""
        return str(self._data["text"])

    @property
    def alerts(self) -> List[Dict[str, Any]]:
        """Alerts that fired with this turn (``id``, ``message`` in the conversation's language, ``turns``)."""
        return list(self._data.get("alerts") or [])

    @property
    def churn(self) -> Optional[Dict[str, Any]]:
        return self._data.get("churn")

    @property
    def knowledge(self) -> List[Dict[str, Any]]:
        """Suggestions from the knowledge base for this turn (a customer's question); empty otherwise."""
        return list(self._data.get("knowledge") or [])

    @property
    def churn_change(self) -> Optional[float]:
        """The churn score now minus before this turn (``None`` on the first turn)."""
        return self._data.get("churn_change")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LiveUpdate) and self._data == other._data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        ids = [a.get("id") for a in self.alerts]
        return f"LiveUpdate(turn={self.turn}, speaker={self.speaker!r}, alerts={ids!r})"


class LiveSession:
    """A conversation analysed while it happens: :meth:`push` one turn at a time and get a
    :class:`LiveUpdate`; :attr:`analysis` always equals ``copilot.analyze`` on the turns so far, and each
    push encodes only its own turn.

    :param copilot: the models to use (a :class:`Copilot`).
    :param id: the conversation's id.
    :param channel: ``"phone"``, ``"chat"``, ``"email"``, ``"social"`` or ``"other"`` (default), or an alias
        of the input format (``"telefoon"``, ``"whatsapp"``, ``"webcare"``, …).
    :param language: ISO 639-1 code; detected from the turns when absent.
    :param customer: the customer record for churn (``tenure_months``, ``contract_end``, ``plan``,
        ``contacts_last_30_days``, ...).
    :param parties: what the note calls the two sides when the transcript names them, e.g.
        ``{"customer": "#Person1#", "agent": "#Person2#"}``; the note's own nouns otherwise.

    ``push`` releases the GIL. A session takes one call at a time (calls from other threads wait);
    separate sessions run in parallel. After :meth:`close` the session refuses new turns.
    """

    __slots__ = ("_native",)

    def __init__(
        self,
        copilot: Copilot,
        id: str,
        *,
        channel: Optional[str] = None,
        language: Optional[str] = None,
        customer: Optional[Dict[str, Any]] = None,
        parties: Optional[Dict[str, str]] = None,
    ) -> None:
        self._native = _native.LiveSession(copilot.native, id, channel, language, customer, parties)

    @property
    def id(self) -> str:
        return self._native.id

    @property
    def closed(self) -> bool:
        return self._native.closed

    def push(self, speaker: str, text: str, timestamp: Optional[float] = None) -> LiveUpdate:
        """Add one turn. ``speaker`` as in transcripts (``customer``/``klant``, ``agent``/``medewerker``,
        ``bot``, ``system``); ``timestamp`` in seconds since the start, never before the previous turn's.

        Raises :class:`InvalidInputError` (empty text, out-of-order timestamp, unknown speaker, closed
        session) or :class:`InputTooLargeError` (a turn or a conversation over the limits); the session
        is then as it was before the call.
        """
        return LiveUpdate.from_json(self._native.push(speaker, text, timestamp))

    @property
    def analysis(self) -> Optional[Analysis]:
        """The Analysis of the turns so far (``None`` before the first turn); after :meth:`close`, the
        final one."""
        text = self._native.analysis_json()
        return Analysis.from_json(text) if text is not None else None

    def close(self) -> Analysis:
        """End the session and return the final Analysis (with the LLM rewrite of the note when the
        copilot has a ``generator``). Raises :class:`InvalidInputError` for a session without turns or
        one already closed; the session is closed afterwards in any case."""
        return Analysis.from_json(self._native.close())

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return repr(self._native)


def _strings(values: Iterable[Any]) -> List[str]:
    return [str(v) for v in values]


class IntentHead:
    """An intent classifier trained on your own labels (what ``copiloot train intent`` fits): logistic
    regression on frozen embeddings of the copilot's encoder, trained in seconds."""

    __slots__ = ("_native",)

    def __init__(self, native: _native.IntentHead) -> None:
        self._native = native

    @classmethod
    def train(
        cls,
        copilot: Copilot,
        texts: Iterable[str],
        labels: Iterable[str],
        *,
        l2: Optional[float] = None,
        cv: Optional[int] = None,
        class_weight: str = "balanced",
        max_iter: int = 500,
    ) -> "IntentHead":
        """Fit on ``(texts, labels)`` (lists, tuples or pandas Series). ``cv=k`` picks the L2 strength by
        k-fold cross-validation; ``class_weight="balanced"`` weighs rare intents up."""
        native = _native.IntentHead.train(
            copilot.native,
            _strings(texts),
            _strings(labels),
            l2=l2,
            cv=cv,
            class_weight=class_weight,
            max_iter=max_iter,
        )
        return cls(native)

    @classmethod
    def load(cls, path: PathLike) -> "IntentHead":
        """Load a head saved by :meth:`save` or by ``copiloot train intent --out DIR``."""
        return cls(_native.IntentHead.load(os.fspath(path)))

    def save(self, path: PathLike) -> None:
        """Write ``head.safetensors`` and ``head.json`` into the folder ``path`` (the CLI's format)."""
        self._native.save(os.fspath(path))

    @property
    def labels(self) -> List[str]:
        return self._native.labels

    @property
    def encoder(self) -> str:
        return self._native.encoder

    @property
    def training(self) -> Dict[str, Any]:
        """Examples per class, L2 strength, iterations, final loss and train accuracy."""
        result: Dict[str, Any] = json.loads(self._native.training_json() or "{}")
        return result

    def predict(self, copilot: Copilot, texts: Iterable[str]) -> List[Tuple[str, float]]:
        """``(label, probability)`` per text."""
        return self._native.predict(copilot.native, _strings(texts))

    def evaluate(
        self, copilot: Copilot, texts: Iterable[str], labels: Iterable[str], top_confused: int = 10
    ) -> Dict[str, Any]:
        """Accuracy, macro-F1, per-class precision/recall/F1 and the most confused pairs — the report of
        ``copiloot eval intent --model DIR``."""
        result: Dict[str, Any] = json.loads(
            self._native.evaluate_json(copilot.native, _strings(texts), _strings(labels), top_confused)
        )
        return result

    def __repr__(self) -> str:
        return f"IntentHead(labels={self.labels!r}, encoder={self.encoder!r})"


def evaluate(gold: Iterable[str], predicted: Iterable[str], top_confused: int = 10) -> Dict[str, Any]:
    """The CLI's classification metrics for any two label lists of the same length."""
    result: Dict[str, Any] = json.loads(_native.evaluate_json(_strings(gold), _strings(predicted), top_confused))
    return result
