"""langchain-tests' ChatModelIntegrationTests, run against the emulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support.pictures import picture

_server: dict[str, str] = {}

# The smallest valid PDF the suite's "summarize this document" call needs.
_PDF = (
    b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture(scope="module", autouse=True)
def emulator() -> Iterator[None]:
    with FakeOpenRouter().serve() as base_url:
        _server["base_url"] = base_url
        yield


@pytest.fixture(autouse=True)
def offline_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite downloads a sample image and PDF with httpx.get: serve them locally."""

    def fake_get(url: str, **_: Any) -> httpx.Response:
        content = _PDF if url.endswith(".pdf") else picture("orange", (32, 16))
        return httpx.Response(200, content=content, request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", fake_get)


class TestChatNanoBananaIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatNanoBanana]:
        return ChatNanoBanana

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"api_key": "sk-or-integration-key", "base_url": _server["base_url"]}

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def structured_output_kwargs(self) -> dict[str, Any]:
        return {"method": "json_schema"}

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[str, list[str]]:
        return {"invoke": [], "stream": []}

    @property
    def model_override_value(self) -> str:
        return "google/gemini-3-pro-image"
