"""The knowledge assistant: a company's own articles, indexed once, searched with what the customer asks.

    >>> kb = copiloot.KnowledgeBase.index("help/", "help.kb", copilot=copilot)   # or models=/encoder=
    >>> kb.report["embedded"], kb.articles
    >>> kb.search("ik wil mijn abonnement stopzetten", copilot=copilot)[0]["article_id"]
    >>> copilot = copiloot.Copilot(kb="help.kb")        # analyses and live updates carry ``knowledge``

Suggestions are plain dicts (the CLI's JSON): ``article_id``, ``title``, ``url`` (when known), ``heading``
(section path), ``passage``, ``highlight`` (``start``/``end`` byte offsets into the passage's UTF-8 and
the ``sentence``), ``score`` (what ``min_score`` applies to), ``dense``, ``lexical``, and ``turn`` (the
asking turn) when they come from an analysis.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from copiloot import _native
from copiloot._native import Conversation, InvalidInputError

if TYPE_CHECKING:
    from copiloot import Copilot, PathLike

#: What :meth:`KnowledgeBase.search` accepts: one question (a customer turn), the conversation so far as
#: ``{"speaker": ..., "text": ...}`` dicts or ``(speaker, text)`` pairs (oldest first; the last customer
#: turn is the question), or a :class:`Conversation`.
Query = Union[str, Conversation, Iterable[Union[Mapping[str, Any], Tuple[str, str]]]]


def _turns(query: Query) -> List[Tuple[str, str]]:
    if isinstance(query, str):
        return [("customer", query)]
    if isinstance(query, Conversation):
        return query.turns
    out: List[Tuple[str, str]] = []
    for i, turn in enumerate(query):
        if isinstance(turn, Mapping) and "speaker" in turn and "text" in turn:
            out.append((str(turn["speaker"]), str(turn["text"])))
        elif isinstance(turn, (tuple, list)) and len(turn) == 2:
            out.append((str(turn[0]), str(turn[1])))
        else:
            err = InvalidInputError(
                f'turns[{i}]: expected a {{"speaker": ..., "text": ...}} dict or a (speaker, text) pair, '
                f"got {type(turn).__name__}"
            )
            err.code = "invalid_input"
            raise err
    return out


class KnowledgeBase:
    """A searchable index of articles (one file, as ``copiloot kb index`` writes it).

    Searching embeds the query, so it needs the encoder the passages were embedded with: pass
    ``copilot=`` (its encoder is used, nothing more is loaded), or leave it out and the knowledge base
    loads its own encoder once, on the first search, and keeps it (the one :meth:`index` used, or for
    :meth:`load` the ``encoder``/``models`` given there, by default the catalog's default encoder).
    A knowledge base built with another encoder raises :class:`ConfigError` when searched.

    Thread-safe; ``index`` and ``search`` release the GIL.
    """

    __slots__ = ("_native",)

    def __init__(self, native: _native.KnowledgeBase) -> None:
        self._native = native

    @classmethod
    def index(
        cls,
        source: PathLike,
        out: PathLike,
        *,
        encoder: Optional[str] = None,
        models: Optional[PathLike] = None,
        copilot: Optional[Copilot] = None,
        progress: Optional[Callable[[int, int], Any]] = None,
    ) -> "KnowledgeBase":
        """Index the articles of ``source`` (a folder of ``.md``/``.html``/``.txt`` files, ids from their
        paths, or a JSONL file of ``{"id", "title", "text", "url"}``) into the file ``out`` and return it
        loaded; :attr:`report` says what was done. An existing index at ``out`` made with the same
        encoder is reused: only new or changed articles are embedded. The file is replaced atomically.

        :param copilot: embed with this copilot's encoder (else ``encoder``, a folder or hub id, or the
            default encoder from ``models``).
        :param progress: ``progress(done, total)``, called as passages are embedded; an exception it
            raises is re-raised once the index is written.

        Raises :class:`InvalidInputError` when ``source`` holds no articles, :class:`IoError` when it
        cannot be read or ``out`` written.
        """
        native = _native.KnowledgeBase.index(
            os.fspath(source),
            os.fspath(out),
            encoder=encoder,
            models=os.fspath(models) if models is not None else None,
            copilot=copilot.native if copilot is not None else None,
            progress=progress,
        )
        return cls(native)

    @classmethod
    def load(
        cls, path: PathLike, *, encoder: Optional[str] = None, models: Optional[PathLike] = None
    ) -> "KnowledgeBase":
        """Load an index file. ``encoder``/``models`` name the encoder searches without ``copilot=`` load
        (lazily). Raises :class:`InvalidInputError` for a file that is not an index, is damaged or was
        written by an older copiloot (rebuild it with :meth:`index`)."""
        return cls(
            _native.KnowledgeBase.load(
                os.fspath(path), encoder=encoder, models=os.fspath(models) if models is not None else None
            )
        )

    def search(
        self,
        query: Query,
        *,
        top_k: int = 3,
        min_score: Optional[float] = None,
        retriever: str = "hybrid",
        copilot: Optional[Copilot] = None,
        intent_weight: Optional[float] = None,
    ) -> List[Dict[str, Any]]:
        """The best passage of up to ``top_k`` articles for ``query``, best first, as dicts (see the
        module docs). Earlier turns of a conversation say what the question is about.

        :param min_score: leave out suggestions scoring below (``None``: the core's default for the
            default encoder, which keeps greetings and small talk without suggestions).
        :param retriever: ``"hybrid"`` (dense and BM25 over the conversation), ``"lexical"`` or ``"dense"``
            (the last customer turn only).
        :param copilot: embed the query with this copilot's encoder; its intent model labels the customer
            turns, and articles tagged with one of those intents (``intents:`` in their front matter) get a
            bonus and name the ``intent`` (a knowledge base made or loaded without a copilot has no intent
            model).
        :param intent_weight: the size of that bonus (``None``: the core's default, 0.01; ``0`` turns it off).

        Raises :class:`InvalidInputError` for a query without a customer turn or with an unknown
        speaker, :class:`ConfigError` for a knowledge base made with another encoder.
        """
        text = self._native.search(
            _turns(query),
            top_k=top_k,
            min_score=min_score,
            retriever=retriever,
            copilot=copilot.native if copilot is not None else None,
            intent_weight=intent_weight,
        )
        result: List[Dict[str, Any]] = json.loads(text)
        return result

    @property
    def native(self) -> _native.KnowledgeBase:
        """The underlying ``copiloot._native.KnowledgeBase``."""
        return self._native

    @property
    def report(self) -> Optional[Dict[str, Any]]:
        """What :meth:`index` did: ``articles``, ``passages``, ``embedded`` (run through the encoder now),
        ``reused`` (vectors kept from the previous index), ``removed`` (articles gone from the source) and
        ``warnings`` (files skipped, index rebuilt …). ``None`` for a knowledge base from :meth:`load`."""
        text = self._native.report_json()
        result: Optional[Dict[str, Any]] = json.loads(text) if text is not None else None
        return result

    @property
    def articles(self) -> int:
        return self._native.articles

    @property
    def passages(self) -> int:
        return self._native.passages

    @property
    def encoder_id(self) -> str:
        """The model id of the encoder the passages were embedded with."""
        return self._native.encoder_id

    @property
    def path(self) -> Optional[str]:
        """The index file."""
        path = self._native.path
        return os.fspath(path) if path is not None else None

    def article_ids(self) -> List[str]:
        """Every article id, sorted."""
        return self._native.article_ids()

    def __repr__(self) -> str:
        return repr(self._native)
