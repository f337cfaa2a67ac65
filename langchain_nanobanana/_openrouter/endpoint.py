"""What differs between OpenRouter's endpoints: the path, how a whole answer is read,
and the stream reader. The transport sends any ``Endpoint`` the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.messages import AIMessage, AIMessageChunk

from langchain_nanobanana.errors import OpenRouterError


class StreamReading(Protocol):
    """What an endpoint's stream reader offers (see ``chat_completions.StreamReader``)."""

    finished: bool

    def parse(self, payload: bytes) -> Any: ...

    def add(self, parsed: Any) -> list[AIMessageChunk]: ...

    def close(self) -> AIMessageChunk: ...

    def failed(self, error: OpenRouterError) -> OpenRouterError: ...


@dataclass(frozen=True)
class Endpoint:
    """An OpenRouter endpoint, as far as sending and reading go."""

    path: str
    read_answer: Callable[[bytearray, str], AIMessage]
    stream_reader: Callable[[str], StreamReading]
