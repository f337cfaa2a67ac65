"""ChatNanoBanana: Gemini image models ("Nano Banana") through OpenRouter, as a chat model."""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompt_values import ChatPromptValue, PromptValue
from langchain_core.runnables import Runnable
from langchain_core.utils import from_env, secret_from_env
from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from langchain_nanobanana._catalog.keywords import check_keywords
from langchain_nanobanana._catalog.models import DEFAULT_MODEL, find_model
from langchain_nanobanana._catalog.retired import released_id
from langchain_nanobanana._content.to_openrouter import check_media_size, with_sniffed_mime_types
from langchain_nanobanana._openrouter.options import (
    MODEL_OPTION_NAMES,
    CallOptions,
    MaxPrice,
    check_image_config,
    checked_max_price,
)
from langchain_nanobanana._transport.connection import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONCURRENCY,
    ConnectionSettings,
    app_headers,
    check_api_key,
    check_base_url,
    check_clients,
)

if TYPE_CHECKING:
    import httpx
    from langchain_core.tools import BaseTool

    from langchain_nanobanana._openrouter.discovery import ModelFacts
    from langchain_nanobanana._transport.fanout import Call
    from langchain_nanobanana._transport.http import Transport
    from langchain_nanobanana._transport.limits import CallLimits

    SyncClient = httpx.Client | None
    AsyncClient = httpx.AsyncClient | None
else:
    # httpx is imported on the first call, not with the package (it is a tenth of
    # the import time); pydantic sees Any, type checkers the real types.
    SyncClient = AsyncClient = Any


class ChatNanoBanana(BaseChatModel):
    """Gemini 2.5 Flash Image ("Nano Banana") and its siblings, through OpenRouter.

    Setup: ``pip install langchain-nanobanana`` and set ``OPENROUTER_API_KEY``.

    Example (runs offline against the built-in emulator; drop the two ``fake``
    lines and it talks to OpenRouter):

        .. code-block:: python

            from langchain_nanobanana import ChatNanoBanana
            from langchain_nanobanana.testing import FakeOpenRouter

            fake = FakeOpenRouter()
            llm = fake.chat_model(aspect_ratio="16:9")  # ChatNanoBanana(aspect_ratio="16:9")
            message = llm.invoke("a nano banana dish in a fancy restaurant")
            image = next(b for b in message.content_blocks if b["type"] == "image")
            image["mime_type"], len(image["base64"])  # ('image/png', ...)
            message.usage_metadata["output_token_details"]["image"]  # 1290
            message.response_metadata["cost"]  # USD actually charged

    The answer's content is a list of standard blocks: ``{"type": "text", ...}``
    and one ``{"type": "image", "base64": ..., "mime_type": ..., "id": ...}`` per
    image. To edit, put the image (any LangChain image block) in a HumanMessage
    next to the instruction, or keep the AIMessage that made it in the history
    and say "make it blue": it is sent where the model sees it.

    Per call, ``aspect_ratio``, ``image_size``, ``seed``, ``temperature``,
    ``max_tokens``, ``stop`` (and ``model``, ``top_p``, ``modalities``,
    ``response_format``, ``provider``, ``max_price``) may be passed to ``invoke`` or
    ``bind``.

    When the provider refuses (a safety or policy filter withheld the answer), the
    content ends with a standard refusal block, ``{"type": "refusal", "refusal": ...,
    "extras": {"native_finish_reason": ...}}``, the same in ``invoke`` and ``stream``;
    structured output then raises ``ModelRefusalError``. langchain-core before 1.7.5
    has no refusal block: there it is wrapped in a ``non_standard`` block.
    """

    model: str = Field(default=DEFAULT_MODEL, alias="model_name")
    """OpenRouter model id; send the plain id, not a dated slug. A retired preview id
    (``google/gemini-3-pro-image-preview``, ...) becomes its released id, with a warning."""
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("OPENROUTER_API_KEY", default=None),
        alias="openrouter_api_key",
    )
    """OpenRouter key; read from ``OPENROUTER_API_KEY`` when not given."""
    base_url: str = Field(
        default_factory=from_env(
            ("OPENROUTER_BASE_URL", "OPENROUTER_API_BASE"), default=DEFAULT_BASE_URL
        ),
        validation_alias=AliasChoices("base_url", "openai_api_base", "openrouter_api_base"),
    )
    """API root; ``OPENROUTER_BASE_URL`` (or ``OPENROUTER_API_BASE``) when set. Also
    accepted as ``openai_api_base`` or ``openrouter_api_base``, as in langchain-openai."""
    aspect_ratio: str | None = None
    """e.g. "16:9"; checked locally against the model's list."""
    image_size: str | None = None
    """"1K" (default), "2K", "4K" on Gemini 3 models; "0.5K" on 3.1 Flash Image."""
    modalities: list[str] | None = None
    """What to ask for; by default ["image"] for models the catalog knows are
    image-only (FLUX, ...) and ["image", "text"] for the rest."""
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    max_tokens: int | None = Field(
        default=None, validation_alias=AliasChoices("max_tokens", "max_completion_tokens")
    )
    """Also accepted as ``max_completion_tokens``. Also bounds the credit OpenRouter
    reserves for the call (402 on small balances)."""
    stop: list[str] | None = None
    response_format: dict[str, Any] | None = None
    timeout: float | None = Field(
        default=120.0, validation_alias=AliasChoices("timeout", "request_timeout")
    )
    """Seconds to wait for each read (and to connect); also accepted as
    ``request_timeout``. Image generation commonly takes 10-40 s. Bytes that trickle
    in reset it: ``deadline`` bounds the call."""
    deadline: float | None = Field(default=600.0, gt=0)
    """Seconds for the whole call, retries and backoff included, however the server
    trickles bytes or keep-alives; None for no limit. A 4K image on Gemini 3 Pro
    Image is reported taking 60-120 s and more behind proxies, so the default
    leaves room for retries of a slow 4K call."""
    max_retries: int = Field(default=2, ge=0)
    """Retries of 408, 5xx and connection failures, with backoff and Retry-After. A 429 is
    not a failure while ``deadline`` allows waiting: the call goes back in line."""
    max_concurrency: int | None = Field(default=DEFAULT_MAX_CONCURRENCY, ge=1)
    """At most this many requests in flight at once on this API key and base URL, counted
    over every ChatNanoBanana in the process (sync and async, ``n``, ``abatch``, the tool).
    Below it, an adaptive window decides: a 429 narrows it and its Retry-After pauses new
    requests on the key, successes widen it again; calls beyond it wait in line within their
    ``deadline``. None: no shared limit, and each call retries a 429 alone (``max_retries``)."""
    app_url: str | None = None
    """Sent as ``HTTP-Referer``: your app's URL in OpenRouter's rankings."""
    app_title: str | None = None
    """Sent as ``X-Title``."""
    default_headers: dict[str, str] | None = None
    """Extra HTTP headers sent with every request (e.g. for a proxy); the key goes in
    ``api_key``, never here."""
    provider: dict[str, Any] | None = None
    """OpenRouter routing object: order, only, ignore, allow_fallbacks, sort, ... (sent as
    given)."""
    max_price: MaxPrice | None = None
    """Price cap for routing, sent as ``provider.max_price``: US dollars per million
    ``prompt`` / ``completion`` tokens, per ``image``, ``audio`` unit or ``request``,
    e.g. ``{"prompt": 0.5, "completion": 40}``. Providers listed above it are skipped
    (it is not a limit on what a call spends). Checked before any request; not also
    inside ``provider``. Chat endpoint only: the Image API's routing has no price cap."""
    endpoint: Literal["chat", "images"] | None = None
    """``"chat"`` (chat/completions) or ``"images"`` (OpenRouter's Image API). Unset: the
    chat endpoint, except for models OpenRouter serves only on the Image API."""
    n: int | None = None
    """Images per call (1-10). The Image API makes several in one request where the model
    can; otherwise (and always on the chat endpoint) that many requests run in parallel."""
    quality: Literal["auto", "low", "medium", "high"] | None = None
    """Image API only."""
    output_format: Literal["png", "jpeg", "webp"] | None = None
    """Image API only; the model's own default when unset."""
    background: Literal["auto", "transparent", "opaque"] | None = None
    """Image API only."""
    output_compression: int | None = Field(default=None, ge=0, le=100)
    """Image API only: 0-100, for jpeg and webp."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other body fields, sent as given (e.g. ``{"user": "u-42"}``)."""
    http_client: SyncClient = Field(default=None, exclude=True)
    """An httpx client to use instead of the built-in pooled one."""
    http_async_client: AsyncClient = Field(default=None, exclude=True)
    """An httpx async client to use instead of the built-in pooled ones."""
    streaming: bool = False
    """When True, ``invoke`` streams under the hood (same result)."""
    allow_insecure_http: bool = False
    """Allow a plain-http ``base_url`` that is not on this machine (the key would travel
    unencrypted); loopback addresses are always allowed."""
    record_to: str | None = Field(default_factory=from_env("NANOBANANA_RECORD", default=None))
    """A folder to write every exchange with OpenRouter to, one fixture each
    (``NAME.meta.json`` and ``NAME.response.json|sse``); ``NANOBANANA_RECORD`` when set.
    ``FakeOpenRouter.replay(folder)`` answers from them, so a bug can travel as files.
    The key is never written; images become same-size placeholders."""
    record_images: bool = Field(
        default_factory=lambda: os.environ.get("NANOBANANA_RECORD_IMAGES", "") in ("1", "true")
    )
    """Keep the real images in recordings (``NANOBANANA_RECORD_IMAGES=1``)."""

    # defer_build: the validator is built on first construction, not at import
    # (about half of the package's own import cost). hide_input_in_errors: a
    # validation error would otherwise show the constructor's arguments, the key
    # and a base_url's password among them.
    model_config = ConfigDict(
        populate_by_name=True,
        arbitrary_types_allowed=True,
        defer_build=True,
        hide_input_in_errors=True,
    )

    _transport: Any = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keywords(cls, values: Any) -> Any:
        # Before anything else: a misspelt or foreign keyword must not be dropped
        # (a lost base URL would send the key to OpenRouter instead of a proxy).
        if isinstance(values, dict):
            check_keywords(values, cls.model_fields)
        return values

    @field_validator("model")
    @classmethod
    def _released_model(cls, value: str) -> str:
        return released_id(value, stacklevel=4)

    @field_validator("max_price", mode="wrap")
    @classmethod
    def _check_max_price(cls, value: Any, _: ValidatorFunctionWrapHandler) -> Any:
        # Instead of pydantic's own reading of the TypedDict, which would drop an unknown
        # key (leaving that price uncapped), turn "0.5" into 0.5 and 1 into 1.0: the
        # same check as a per-call max_price, and the values sent as given.
        return checked_max_price(value)

    @property
    def model_name(self) -> str:
        """The model id (``model``), under the name other LangChain chat models use."""
        return self.model

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        check_image_config(self.model, self.aspect_ratio, self.image_size)
        check_base_url(self.base_url, allow_insecure_http=self.allow_insecure_http)
        check_clients(self.http_client, self.http_async_client)
        check_api_key(self.api_key)

    # ------------------------------------------------------------ closing

    def close(self) -> None:
        """Close this model's pooled connections (never clients you passed in).

        Async clients are closed on their own event loops; from inside a running
        loop prefer ``await llm.aclose()``. The model stays usable: a later call
        opens new connections.
        """
        if self._transport is not None:
            self._transport.close()

    async def aclose(self) -> None:
        """Close this model's pooled connections, the running loop's at once."""
        if self._transport is not None:
            await self._transport.aclose()

    def __enter__(self) -> ChatNanoBanana:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> ChatNanoBanana:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ identity

    @property
    def _llm_type(self) -> str:
        return "nanobanana-openrouter"

    @property
    def _default_params(self) -> dict[str, Any]:
        # The fields named like the per-call options are their defaults.
        return {name: getattr(self, name) for name in MODEL_OPTION_NAMES}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # Everything that changes the output: this is part of the cache key.
        return {**self._default_params, "model_kwargs": self.model_kwargs}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="openrouter",
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        stop = stop or kwargs.get("stop") or self.stop
        if stop:
            params["ls_stop"] = stop
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        spec = find_model(self.model)
        profile = ModelProfile(
            text_inputs=True,
            image_inputs=True,
            image_url_inputs=True,
            pdf_inputs=True,
            audio_inputs=False,
            video_inputs=False,
            text_outputs=True,
            image_outputs=True,
            tool_calling=False,
            structured_output=True,
        )
        if spec is not None:
            profile["name"] = spec.name
            profile["max_input_tokens"] = spec.context_length
            profile["text_outputs"] = not spec.image_only
            profile["structured_output"] = "structured_outputs" in spec.supported_parameters
            profile["tool_calling"] = spec.calls_tools
        return profile

    # ------------------------------------------------------------ plumbing

    def _get_transport(self) -> Transport:
        """The instance's one transport (and so its pooled clients), made on first use.

        It is given the instance's current connection settings on every call, so a
        ``timeout`` or ``base_url`` changed after the first call takes effect, and a
        changed ``base_url`` is checked again before the key goes anywhere.
        """
        from langchain_nanobanana._transport.http import Transport

        settings = ConnectionSettings(
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            deadline=self.deadline,
            max_concurrency=self.max_concurrency,
            extra_headers={
                **(self.default_headers or {}),
                **app_headers(self.app_url, self.app_title),
            },
            user_client=self.http_client,
            user_async_client=self.http_async_client,
            record_to=self.record_to,
            record_images=self.record_images,
        )
        transport: Transport | None = self._transport
        if transport is None:
            self._transport = transport = Transport(settings)
        elif transport.settings != settings:
            check_base_url(self.base_url, allow_insecure_http=self.allow_insecure_http)
            check_clients(self.http_client, self.http_async_client)
            transport.settings = settings
        return transport

    def _convert_input(self, model_input: LanguageModelInput) -> PromptValue:
        # Base64 blocks without a mime type must get one before langchain-core's
        # tracing sees them (it raises on them).
        prompt = super()._convert_input(model_input)
        if isinstance(prompt, ChatPromptValue):
            check_media_size(prompt.messages)  # before tracing copies every image
            messages = [with_sniffed_mime_types(message) for message in prompt.messages]
            if any(new is not old for new, old in zip(messages, prompt.messages, strict=True)):
                return ChatPromptValue(messages=messages)
        return prompt

    def _fetch(self, path: str, limits: CallLimits | None = None) -> bytes | None:
        """GET ``path`` under the base URL (OpenRouter's public model lists): a 200 body
        or None. Read like any answer: capped, within the call's deadline."""
        from langchain_nanobanana._openrouter.discovery import MAX_LIST_BYTES
        from langchain_nanobanana.errors import OpenRouterError

        transport = self._get_transport()
        try:
            return bytes(transport.get(path, (limits or transport.limits()).capped(MAX_LIST_BYTES)))
        except OpenRouterError:
            return None

    async def _afetch(self, path: str, limits: CallLimits) -> bytes | None:
        from langchain_nanobanana._openrouter.discovery import MAX_LIST_BYTES
        from langchain_nanobanana.errors import OpenRouterError

        transport = self._get_transport()
        try:
            return bytes(await transport.aget(path, limits.capped(MAX_LIST_BYTES)))
        except OpenRouterError:
            return None

    def _discovery_key(self) -> Hashable:
        from langchain_nanobanana._openrouter.discovery import cache_key

        settings = self._get_transport().settings
        return cache_key(
            self.base_url, settings.extra_headers, self.http_client, self.http_async_client
        )

    def _model_facts(self, model: str, limits: CallLimits) -> ModelFacts:
        from langchain_nanobanana._openrouter.discovery import DISCOVERY

        return DISCOVERY.facts(self._discovery_key(), model, lambda path: self._fetch(path, limits))

    async def _amodel_facts(self, model: str, limits: CallLimits) -> ModelFacts:
        from langchain_nanobanana._openrouter.discovery import DISCOVERY

        return await DISCOVERY.afacts(
            self._discovery_key(), model, lambda path: self._afetch(path, limits)
        )

    def _limits(self) -> CallLimits:
        """The limits of a call starting now (its deadline covers discovery too)."""
        return self._get_transport().limits()

    def _call(
        self,
        messages: Sequence[BaseMessage],
        stop: list[str] | None,
        overrides: Mapping[str, Any],
        *,
        stream: bool,
        facts: ModelFacts | None = None,
        limits: CallLimits | None = None,
    ) -> Call:
        """This call's request(s), checked and built (before the key is looked at)."""
        # The endpoints, the wire shapes and the fan-out load on the first call, like
        # httpx: importing the package stays cheap for apps that construct and wait.
        from langchain_nanobanana._transport.plan import plan_call

        options = CallOptions.resolve(self._default_params, overrides, stop=stop)
        check_media_size(messages)
        limits = limits or self._limits()
        facts = facts or self._model_facts(options.model, limits)
        # Discovery's half of "image-only models ask for images only" (the catalog's is
        # in CallOptions.resolve): only where neither the model nor the call chose.
        if facts.image_only and self.modalities is None and overrides.get("modalities") is None:
            options = replace(options, modalities=["image"])
        return plan_call(
            messages,
            options,
            facts,
            endpoint=self.endpoint,
            model_kwargs=self.model_kwargs,
            transport=self._get_transport(),
            api_key=self.api_key,
            stream=stream,
            limits=limits,
        )

    # ------------------------------------------------------------ calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return _result(self._call(messages, stop, kwargs, stream=False).answer())

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        limits = self._limits()
        facts = await self._amodel_facts(kwargs.get("model") or self.model, limits)
        call = self._call(messages, stop, kwargs, stream=False, facts=facts, limits=limits)
        return _result(await call.aanswer())

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._call(messages, stop, kwargs, stream=True).chunks():
            generation = ChatGenerationChunk(message=chunk)
            if run_manager and chunk.chunk_position != "last":
                run_manager.on_llm_new_token(chunk.text, chunk=generation)
            yield generation

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        limits = self._limits()
        facts = await self._amodel_facts(kwargs.get("model") or self.model, limits)
        call = self._call(messages, stop, kwargs, stream=True, facts=facts, limits=limits)
        async for chunk in call.achunks():
            generation = ChatGenerationChunk(message=chunk)
            if run_manager and chunk.chunk_position != "last":
                await run_manager.on_llm_new_token(chunk.text, chunk=generation)
            yield generation

    # ------------------------------------------------------------ tools and structured output

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Let an image model that calls tools (``openai/gpt-5-image-mini``, say) call these.

        Whether a model calls tools is what OpenRouter's model list says (the catalog,
        or the list itself for other models): Gemini's image models are listed without
        tools, so binding tools to them raises NotImplementedError at once. The calls
        come back in ``message.tool_calls`` (streamed too). To let any agent make
        images, give a tool-calling chat model the ``NanoBananaImageTool`` instead.

        ``tool_choice``: "auto", "none", "required" ("any" and True mean it too) or the
        name of one of the tools.
        """
        from langchain_nanobanana._openrouter.tool_calling import (
            check_tool_calling,
            openai_tools,
            tool_choice_for,
        )

        facts = self._model_facts(self.model, self._limits())
        endpoint = self.endpoint or ("chat" if "chat" in facts.endpoints else "images")
        check_tool_calling(self.model, facts.calls_tools, endpoint)
        formatted = openai_tools(tools, strict=strict)
        choice = tool_choice_for(tool_choice, formatted)
        return self.bind(tools=formatted, tool_choice=choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        include_raw: bool = False,
        method: Literal["json_schema", "json_mode", "function_calling"] = "json_schema",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Text-only answers parsed into ``schema`` through OpenRouter's ``response_format``.

        ``method="json_schema"`` (default) sends the schema; ``"json_mode"`` asks for
        any JSON object. Structured output goes through ``response_format``, never
        tools (most image models call none), so ``"function_calling"`` falls back to
        ``"json_schema"`` with a warning.
        """
        if kwargs:
            raise TypeError(f"Unexpected arguments: {', '.join(sorted(kwargs))}")
        if method == "function_calling":
            warnings.warn(
                "ChatNanoBanana reads structured output from response_format, not tool "
                "calls; using method='json_schema' instead.",
                stacklevel=2,
            )
            method = "json_schema"
        from langchain_nanobanana._openrouter.structured import parsed_output, response_format_for

        llm = self.bind(
            response_format=response_format_for(schema, method, strict),
            modalities=["text"],
            ls_structured_output_format={
                "kwargs": {"method": method, "strict": strict},
                "schema": schema,
            },
        )
        return parsed_output(llm, schema, include_raw)


def _result(message: AIMessage) -> ChatResult:
    return ChatResult(generations=[ChatGeneration(message=message)])


__all__ = ["ChatNanoBanana", "MaxPrice"]
