"""A scripted tool-calling chat model, to drive agents offline in tests and notebooks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, SkipValidation

Turn = AIMessage | Callable[[list[BaseMessage]], AIMessage]


class ScriptedAgentModel(BaseChatModel):
    """Plays the agent's part (GPT, Claude, ...) from a script, one turn per call.

    Each turn is an AIMessage, or a function of the messages so far that returns
    one (to pick up a handle from the last tool result, say). ``seen`` keeps what
    the model was shown at each call. ``bind_tools`` accepts any tools.

        draw = {"name": "generate_image", "args": {"prompt": "a banana"}, "id": "c1"}
        agent_model = ScriptedAgentModel(turns=[
            AIMessage("", tool_calls=[draw]),
            lambda messages: AIMessage(f"Done: {messages[-1].content}"),
        ])
    """

    # Not validated: pydantic would try to coerce a function into an AIMessage.
    turns: SkipValidation[list[Turn]]
    seen: list[list[BaseMessage]] = Field(default_factory=list)

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
        if len(self.seen) >= len(self.turns):
            raise IndexError(
                f"The script has {len(self.turns)} turns; call {len(self.seen) + 1} has none."
            )
        self.seen.append(list(messages))
        turn = self.turns[len(self.seen) - 1]
        message = turn if isinstance(turn, AIMessage) else turn(messages)
        return ChatResult(generations=[ChatGeneration(message=message)])
