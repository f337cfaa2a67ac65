"""A scripted tool-calling chat model, to drive agents offline in tests, notebooks and servers."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr, SkipValidation, model_validator

Turn = AIMessage | Callable[[list[BaseMessage]], AIMessage]
Route = Callable[[list[BaseMessage]], AIMessage]

_CONVERSATIONS_KEPT = 1024
"""Conversations whose place in the script is remembered; the oldest is forgotten first."""


class ScriptedAgentModel(BaseChatModel):
    """Plays the agent's part (GPT, Claude, ...) from a script.

    ``turns`` is played once per conversation: each LangGraph thread starts at the
    first turn, and a thread's later runs go on where its last run stopped. The
    place is read from the conversation itself (the AI messages it holds past the
    point where this model first saw it), so the model keeps no count of its own
    and a new model on a resumed thread starts its script there. Each turn is an
    AIMessage, or a function of the messages so far that returns one (to pick up
    a handle from the last tool result, say).

    ``route`` instead answers every call by a function of the messages: for a
    server whose users may say anything, in any order.

    ``seen`` holds what the model was shown on its latest calls (at most
    ``keep_seen``, oldest first). ``bind_tools`` accepts any tools.

        draw = {"name": "generate_image", "args": {"prompt": "a banana"}, "id": "c1"}
        agent_model = ScriptedAgentModel(turns=[
            AIMessage("", tool_calls=[draw]),
            lambda messages: AIMessage(f"Done: {messages[-1].content}"),
        ])
    """

    # Not validated: pydantic would try to coerce a function into an AIMessage.
    turns: SkipValidation[list[Turn]] = Field(default_factory=list)
    route: SkipValidation[Route | None] = None
    keep_seen: int = Field(default=20, ge=0)

    _seen: deque[list[BaseMessage]] = PrivateAttr()
    _starts: OrderedDict[str, int] = PrivateAttr(default_factory=OrderedDict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="after")
    def _one_script(self) -> ScriptedAgentModel:
        if bool(self.turns) == (self.route is not None):
            raise ValueError("ScriptedAgentModel takes either turns=[...] or route=function.")
        return self

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._seen = deque(maxlen=self.keep_seen)

    @property
    def seen(self) -> list[list[BaseMessage]]:
        """The messages of the latest calls, oldest first."""
        with self._lock:
            return list(self._seen)

    @property
    def _llm_type(self) -> str:
        return "scripted-agent"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedAgentModel:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            self._seen.append(list(messages))
        if self.route is not None:
            message = self.route(messages)
        else:
            turn = self._turn(_conversation_of(messages, run_manager), messages)
            message = turn if isinstance(turn, AIMessage) else turn(messages)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _turn(self, conversation: str, messages: list[BaseMessage]) -> Turn:
        answered = sum(isinstance(message, AIMessage) for message in messages)
        with self._lock:
            start = self._starts.setdefault(conversation, answered)
            if answered < start:  # the thread was started over (same id, fresh state)
                start = self._starts[conversation] = answered
            self._starts.move_to_end(conversation)
            while len(self._starts) > _CONVERSATIONS_KEPT:
                self._starts.popitem(last=False)
        number = answered - start
        if not 0 <= number < len(self.turns):
            raise IndexError(
                f"The script has {len(self.turns)} turns; call {number + 1} of conversation "
                f"{conversation or '(no thread)'} has none."
            )
        return self.turns[number]


def _conversation_of(
    messages: list[BaseMessage], run_manager: CallbackManagerForLLMRun | None
) -> str:
    """The LangGraph thread of the call, else the id of its first message, else ""."""
    thread = (run_manager.metadata if run_manager else {}).get("thread_id")
    if thread is not None:
        return f"thread:{thread}"
    first = messages[0].id if messages else None
    return f"message:{first}" if first else ""
