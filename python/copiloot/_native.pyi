"""Type stubs of the Rust extension (crates/copiloot-py); checked against the built module by stubtest."""

from os import PathLike
from typing import Any, Callable, List, Optional, Tuple, Union, final

__all__ = [
    "ChecksumError",
    "ChurnModel",
    "ConfigError",
    "Conversation",
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
    "ModelLoadError",
    "ModelNotFoundError",
    "SCHEMA_VERSION",
    "__version__",
    "evaluate_json",
]

__version__: str
SCHEMA_VERSION: str

class CopilootError(Exception):
    code: str

class InvalidInputError(CopilootError): ...
class InputTooLargeError(InvalidInputError): ...
class ModelNotFoundError(CopilootError): ...
class ModelLoadError(CopilootError): ...
class ChecksumError(ModelLoadError): ...
class InstallError(CopilootError): ...
class InferenceError(CopilootError): ...
class ConfigError(CopilootError): ...
class IoError(CopilootError): ...

@final
class Conversation:
    def __new__(
        cls,
        id: str,
        turns: List[Tuple[str, str]],
        channel: Optional[str] = None,
        language: Optional[str] = None,
    ) -> Conversation: ...
    @staticmethod
    def from_json(text: str) -> Conversation: ...
    @staticmethod
    def from_transcript(text: str, id: str = "conversation") -> Conversation: ...
    @staticmethod
    def from_dict(value: Any) -> Conversation: ...
    @property
    def id(self) -> str: ...
    @property
    def language(self) -> Optional[str]: ...
    @property
    def channel(self) -> str: ...
    @property
    def turns(self) -> List[Tuple[str, str]]: ...
    def __len__(self) -> int: ...
    def to_json(self) -> str: ...

@final
class Copilot:
    def __new__(
        cls,
        models: Optional[Union[str, PathLike[str]]] = None,
        encoder: Optional[str] = None,
        taxonomy: Optional[Union[str, PathLike[str]]] = None,
        batch_size: Optional[int] = None,
        redaction: str = "outputs",
        generator: Optional[str] = None,
        max_tokens: int = 160,
        kb: Optional[Union[KnowledgeBase, str, PathLike[str]]] = None,
        kb_top_k: int = 3,
        kb_min_score: Optional[float] = None,
        kb_retriever: str = "hybrid",
    ) -> Copilot: ...
    @property
    def encoder_id(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def models_dir(self) -> str: ...
    @property
    def knowledge_base(self) -> Optional[KnowledgeBase]: ...
    def analyze(self, conversation: Any, id: Optional[str] = None) -> str: ...
    def analyze_many(self, conversations: List[Any]) -> List[Union[str, CopilootError]]: ...
    def embed(self, texts: List[str], role: str = "query") -> Tuple[bytes, int, int]: ...

@final
class KnowledgeBase:
    @staticmethod
    def index(
        source: Union[str, PathLike[str]],
        out: Union[str, PathLike[str]],
        *,
        encoder: Optional[str] = None,
        models: Optional[Union[str, PathLike[str]]] = None,
        copilot: Optional[Copilot] = None,
        progress: Optional[Callable[[int, int], Any]] = None,
    ) -> KnowledgeBase: ...
    @staticmethod
    def load(
        path: Union[str, PathLike[str]],
        *,
        encoder: Optional[str] = None,
        models: Optional[Union[str, PathLike[str]]] = None,
    ) -> KnowledgeBase: ...
    def search(
        self,
        turns: List[Tuple[str, str]],
        *,
        top_k: int = 3,
        min_score: Optional[float] = None,
        retriever: str = "hybrid",
        copilot: Optional[Copilot] = None,
        intent_weight: Optional[float] = None,
    ) -> str: ...
    def report_json(self) -> Optional[str]: ...
    @property
    def articles(self) -> int: ...
    @property
    def passages(self) -> int: ...
    @property
    def encoder_id(self) -> str: ...
    @property
    def path(self) -> Optional[PathLike[str]]: ...
    def article_ids(self) -> List[str]: ...

@final
class LiveSession:
    def __new__(
        cls,
        copilot: Copilot,
        id: str,
        channel: Optional[str] = None,
        language: Optional[str] = None,
        customer: Optional[Any] = None,
        parties: Optional[Any] = None,
    ) -> LiveSession: ...
    def push(self, speaker: str, text: str, timestamp: Optional[float] = None) -> str: ...
    def analysis_json(self) -> Optional[str]: ...
    def close(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def __len__(self) -> int: ...

@final
class IntentHead:
    @staticmethod
    def train(
        copilot: Copilot,
        texts: List[str],
        labels: List[str],
        *,
        l2: Optional[float] = None,
        cv: Optional[int] = None,
        class_weight: str = "balanced",
        max_iter: int = 500,
    ) -> IntentHead: ...
    @staticmethod
    def load(path: Union[str, PathLike[str]]) -> IntentHead: ...
    def save(self, path: Union[str, PathLike[str]]) -> None: ...
    @property
    def labels(self) -> List[str]: ...
    @property
    def encoder(self) -> str: ...
    def training_json(self) -> str: ...
    def predict(self, copilot: Copilot, texts: List[str]) -> List[Tuple[str, float]]: ...
    def evaluate_json(
        self, copilot: Copilot, texts: List[str], labels: List[str], top_confused: int = 10
    ) -> str: ...

@final
class ChurnModel:
    @staticmethod
    def train(
        columns: List[str],
        data: List[List[Any]],
        label: Optional[str] = None,
        *,
        seed: int = 42,
        test_fraction: float = 0.2,
        l2: Optional[float] = None,
        max_iter: int = 1000,
        categorical: List[str] = ...,
        numeric: List[str] = ...,
        ignore: List[str] = ...,
        name: Optional[str] = None,
    ) -> ChurnModel: ...
    @staticmethod
    def load(path: Union[str, PathLike[str]]) -> ChurnModel: ...
    def save(self, path: Union[str, PathLike[str]]) -> None: ...
    def predict_proba(self, columns: List[str], data: List[List[Any]]) -> List[float]: ...
    def explain_json(
        self, columns: List[str], data: List[List[Any]], language: str = "en", top: Optional[int] = None
    ) -> str: ...
    def evaluate_json(self, columns: List[str], data: List[List[Any]], label: Optional[str] = None) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def label(self) -> Optional[str]: ...
    @property
    def kind(self) -> str: ...
    @property
    def features(self) -> List[str]: ...
    @property
    def baseline(self) -> float: ...
    @property
    def bands(self) -> Tuple[float, float]: ...
    def to_json(self) -> str: ...
    def report_json(self) -> str: ...

def evaluate_json(gold: List[str], predicted: List[str], top_confused: int = 10) -> str: ...
