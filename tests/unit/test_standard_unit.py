"""langchain-tests' ChatModelUnitTests: the community's definition of a well-formed chat model."""

from __future__ import annotations

from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_nanobanana import ChatNanoBanana


class TestChatNanoBananaUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatNanoBanana]:
        return ChatNanoBanana

    @property
    def has_tool_calling(self) -> bool:
        # bind_tools is overridden only to say clearly that it is unsupported.
        return False

    @property
    def chat_model_params(self) -> dict[str, object]:
        return {"api_key": "sk-or-unit-test-key"}

    @property
    def init_from_env_params(
        self,
    ) -> tuple[dict[str, str], dict[str, object], dict[str, object]]:
        return (
            {
                "OPENROUTER_API_KEY": "sk-or-from-env",
                "OPENROUTER_BASE_URL": "https://example.test/api/v1",
            },
            {},
            {"api_key": "sk-or-from-env", "base_url": "https://example.test/api/v1"},
        )


class TestChatNanoBananaToolsUnit(ChatModelUnitTests):
    """An image model whose OpenRouter listing has tools: the tool-calling tests run."""

    @property
    def chat_model_class(self) -> type[ChatNanoBanana]:
        return ChatNanoBanana

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def chat_model_params(self) -> dict[str, object]:
        return {"api_key": "sk-or-unit-test-key", "model": "openai/gpt-5-image-mini"}
