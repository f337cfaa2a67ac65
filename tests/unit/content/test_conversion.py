"""The pure mapping functions on plain data: messages out, answers in, never mutating input."""

from __future__ import annotations

import base64
import copy
import io
import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from PIL import Image

from langchain_nanobanana._content.to_openrouter import (
    to_content_part,
    to_openrouter_messages,
    with_sniffed_mime_types,
)
from langchain_nanobanana._openrouter.assembler import ChunkAssembler, message_from_completion
from langchain_nanobanana._openrouter.chat_completions import parse_completion
from langchain_nanobanana.errors import (
    OpenRouterAPIError,
    OpenRouterPermissionDeniedError,
    OpenRouterRateLimitError,
)


def _image(fmt: str, size: tuple[int, int] = (4, 3)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


PNG = _image("PNG")
JPEG = _image("JPEG")
PDF = base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()


def _image_part(url: str, detail: str | None = None) -> dict[str, Any]:
    image_url: dict[str, Any] = {"url": url}
    if detail:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


# ---------------------------------------------------------------- input blocks


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("hi", {"type": "text", "text": "hi"}),
        ({"type": "text", "text": "hi"}, {"type": "text", "text": "hi"}),
        (
            {"type": "image", "base64": PNG, "mime_type": "image/png"},
            _image_part(f"data:image/png;base64,{PNG}"),
        ),
        ({"type": "image", "base64": JPEG}, _image_part(f"data:image/jpeg;base64,{JPEG}")),
        (
            {"type": "image", "base64": PNG, "mime_type": "image/jpeg"},
            _image_part(f"data:image/png;base64,{PNG}"),
        ),
        ({"type": "image", "url": "https://x.test/a.png"}, _image_part("https://x.test/a.png")),
        (
            {
                "type": "image_url",
                "image_url": {"url": f"data:image/jpeg;base64,{JPEG}", "detail": "high"},
            },
            _image_part(f"data:image/jpeg;base64,{JPEG}", "high"),
        ),
        (
            {"type": "image_url", "image_url": "https://x.test/b.png"},
            _image_part("https://x.test/b.png"),
        ),
        (
            {"type": "image", "source_type": "base64", "data": PNG, "mime_type": "image/png"},
            _image_part(f"data:image/png;base64,{PNG}"),
        ),
        (
            {"type": "image", "source_type": "url", "url": "https://x.test/c.png"},
            _image_part("https://x.test/c.png"),
        ),
        (
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/jpeg", "data": JPEG},
            },
            _image_part(f"data:image/jpeg;base64,{JPEG}"),
        ),
        (
            {"type": "image", "source": {"type": "url", "url": "https://x.test/d.png"}},
            _image_part("https://x.test/d.png"),
        ),
        (
            {
                "type": "non_standard",
                "value": {"type": "image_url", "image_url": {"url": "https://x.test/e.png"}},
            },
            _image_part("https://x.test/e.png"),
        ),
        (
            {
                "type": "file",
                "base64": PDF,
                "mime_type": "application/pdf",
                "filename": "report.pdf",
            },
            {
                "type": "file",
                "file": {
                    "filename": "report.pdf",
                    "file_data": f"data:application/pdf;base64,{PDF}",
                },
            },
        ),
        (
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "https://x.test/a.pdf"}},
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "https://x.test/a.pdf"}},
        ),
    ],
)
def test_every_known_block_form_becomes_an_openrouter_part(
    block: Any, expected: dict[str, Any]
) -> None:
    before = copy.deepcopy(block)
    assert to_content_part(block) == expected
    assert block == before


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"type": "hologram"}, "'hologram'"),
        ({"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"}, "text, images and PDF"),
        ({"type": "image", "file_id": "file-1"}, "no file ids"),
        (
            {"type": "image", "base64": PDF, "mime_type": "image/png"},
            "are application/pdf",
        ),
        (
            {"type": "image", "base64": base64.b64encode(b"random bytes!!").decode()},
            "no image type we know",
        ),
        ({"type": "image_url", "image_url": {"url": "ftp://x.test/a.png"}}, "https://"),
        ({"type": "text"}, "no 'text'"),
        (42, "strings or dicts"),
    ],
)
def test_blocks_that_cannot_be_sent_raise_a_clear_value_error(block: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_content_part(block)


def test_an_image_over_30_mb_is_refused_before_upload() -> None:
    huge = PNG[:12] + "A" * (41 * 1024 * 1024)
    with pytest.raises(ValueError, match="30 MB"):
        to_content_part({"type": "image", "base64": huge, "mime_type": "image/png"})


# ---------------------------------------------------------------- messages


def test_roles_and_plain_strings() -> None:
    messages = [
        SystemMessage("be brief"),
        HumanMessage("hi", name="ann"),
        AIMessage("hello", name="bot"),
        ChatMessage(role="human", content="again"),
        ToolMessage("done", tool_call_id="t1"),
    ]
    assert to_openrouter_messages(messages) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi", "name": "ann"},
        {"role": "assistant", "content": "hello", "name": "bot"},
        {"role": "user", "content": "again"},
        {"role": "tool", "content": "done", "tool_call_id": "t1"},
    ]


def test_generated_image_moves_to_the_next_user_turn_after_its_text() -> None:
    history = [
        HumanMessage("draw a cat"),
        AIMessage(
            content=[
                {"type": "reasoning", "reasoning": "thinking...", "index": 0},
                {"type": "text", "text": "Here it is", "index": 1},
                {
                    "type": "image",
                    "base64": PNG,
                    "mime_type": "image/png",
                    "id": "gen-1-0",
                    "index": 2,
                },
            ],
            additional_kwargs={
                "reasoning_details": [{"type": "reasoning.encrypted", "data": "xyz"}]
            },
        ),
        HumanMessage("make it blue"),
    ]
    before = copy.deepcopy(history)

    assert to_openrouter_messages(history) == [
        {"role": "user", "content": "draw a cat"},
        {
            "role": "assistant",
            "content": "Here it is",
            "reasoning_details": [{"type": "reasoning.encrypted", "data": "xyz"}],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "make it blue"},
                _image_part(f"data:image/png;base64,{PNG}"),
            ],
        },
    ]
    assert history == before


def test_a_trailing_generated_image_is_still_sent() -> None:
    history = [
        HumanMessage("draw"),
        AIMessage([{"type": "image", "base64": PNG, "mime_type": "image/png"}]),
    ]
    assert to_openrouter_messages(history)[-1] == {
        "role": "user",
        "content": [_image_part(f"data:image/png;base64,{PNG}")],
    }


def test_user_text_comes_before_its_images() -> None:
    message = HumanMessage(
        [
            {"type": "image", "base64": PNG, "mime_type": "image/png"},
            {"type": "text", "text": "edit"},
        ]
    )
    (converted,) = to_openrouter_messages([message])
    assert [part["type"] for part in converted["content"]] == ["text", "image_url"]


def test_sniffing_fills_missing_mime_types_without_mutating() -> None:
    message = HumanMessage([{"type": "image", "base64": JPEG}, {"type": "text", "text": "x"}])
    before = copy.deepcopy(message)

    sniffed = with_sniffed_mime_types(message)

    assert sniffed.content[0] == {"type": "image", "base64": JPEG, "mime_type": "image/jpeg"}
    assert message == before
    untouched = HumanMessage([{"type": "image", "base64": PNG, "mime_type": "image/png"}])
    assert with_sniffed_mime_types(untouched) is untouched


# ---------------------------------------------------------------- answers

RECORDED_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 1290,
    "total_tokens": 1302,
    "cost": 0.0387036,
    "is_byok": False,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "video_tokens": 0},
    "cost_details": {
        "upstream_inference_cost": None,
        "upstream_inference_prompt_cost": 0.0000036,
        "upstream_inference_completions_cost": 0.0387,
    },
    "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": 1290},
}
ENVELOPE = {
    "id": "gen-1764926649-tF4W3t4FuuPsXb0VBWLB",
    "provider": "Google AI Studio",
    "model": "google/gemini-2.5-flash-image",
    "created": 1764926649,
}


def _recorded(content: str = "Here you go", images: int = 1, padding: bytes = b"") -> bytes:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "reasoning": None,
    }
    if images:
        message["images"] = [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}, "index": n}
            for n in range(images)
        ]
    body = {
        **ENVELOPE,
        "object": "chat.completion",
        "choices": [
            {
                "logprobs": None,
                "finish_reason": "stop",
                "native_finish_reason": "STOP",
                "index": 0,
                "message": message,
            }
        ],
        "usage": RECORDED_USAGE,
    }
    return padding + json.dumps(body).encode()


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    choices = [
        {
            "index": 0,
            "delta": delta,
            "finish_reason": finish,
            "native_finish_reason": finish and "STOP",
        }
    ]
    return json.dumps(
        {**ENVELOPE, "object": "chat.completion.chunk", "choices": choices, **extra}
    ).encode()


def test_the_recorded_answer_keeps_everything() -> None:
    message = message_from_completion(parse_completion(_recorded(padding=b"\n \n ")))

    assert message.content == [
        {"type": "text", "text": "Here you go", "index": 0},
        {
            "type": "image",
            "base64": PNG,
            "mime_type": "image/png",
            "id": f"{ENVELOPE['id']}-0",
            "index": 1,
        },
    ]
    assert message.usage_metadata == {
        "input_tokens": 12,
        "output_tokens": 1290,
        "total_tokens": 1302,
        "input_token_details": {"cache_read": 0},
        "output_token_details": {"reasoning": 0, "image": 1290},
    }
    assert message.response_metadata == {
        "model_name": "google/gemini-2.5-flash-image",
        "model_provider": "openrouter",
        "id": ENVELOPE["id"],
        "provider": "Google AI Studio",
        "created": 1764926649,
        "finish_reason": "stop",
        "native_finish_reason": "STOP",
        "cost": 0.0387036,
        "cost_details": RECORDED_USAGE["cost_details"],
        "is_byok": False,
    }
    image_block = message.content_blocks[1]
    assert (image_block["type"], image_block.get("base64")) == ("image", PNG)


def test_two_images_get_their_own_index_and_id() -> None:
    message = message_from_completion(parse_completion(_recorded(content="", images=2)))
    first, second = message.content
    assert isinstance(first, dict) and isinstance(second, dict)
    assert (first["index"], second["index"]) == (0, 1)
    assert first["id"] != second["id"]


def test_an_answer_without_an_image_keeps_the_text_and_reason() -> None:
    raw = _recorded(content="I can't", images=0).replace(
        b'"native_finish_reason": "STOP"', b'"native_finish_reason": "IMAGE_SAFETY"'
    )
    message = message_from_completion(parse_completion(raw))
    assert message.text == "I can't"
    assert message.response_metadata["native_finish_reason"] == "IMAGE_SAFETY"


@pytest.mark.parametrize("usage_choices", ["repeated", "empty"])
def test_stream_chunks_add_up_to_the_whole_answer(usage_choices: str) -> None:
    usage_chunk = (
        _chunk({"role": "assistant", "content": ""}, "stop", usage=RECORDED_USAGE)
        if usage_choices == "repeated"
        else json.dumps({**ENVELOPE, "choices": [], "usage": RECORDED_USAGE}).encode()
    )
    stream = [
        _chunk({"role": "assistant", "content": "Here "}),
        _chunk({"role": "assistant", "content": "you go"}),
        _chunk(
            {
                "content": "",
                "images": [
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
                ],
            },
            "stop",
        ),
        usage_chunk,
    ]
    assembler = ChunkAssembler()
    chunks = [assembler.add(parse_completion(raw)) for raw in stream] + [assembler.final_chunk()]
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk

    whole = message_from_completion(parse_completion(_recorded()))
    assert isinstance(total, AIMessageChunk)
    assert (total.content, total.usage_metadata, total.response_metadata) == (
        whole.content,
        whole.usage_metadata,
        whole.response_metadata,
    )
    assert [c.usage_metadata is not None for c in chunks].count(True) == 1


def test_text_image_text_keeps_three_blocks_in_order() -> None:
    assembler = ChunkAssembler()
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    parts = [
        _chunk({"content": "before"}),
        _chunk({"content": "", "images": [image]}),
        _chunk({"content": "after"}, "stop"),
    ]
    total = AIMessageChunk(content=[])
    for raw in parts:
        total += assembler.add(parse_completion(raw))
    assert [(b["type"], b["index"]) for b in total.content if isinstance(b, dict)] == [
        ("text", 0),
        ("image", 1),
        ("text", 2),
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (502, OpenRouterAPIError),
        ("502", OpenRouterAPIError),
        (429, OpenRouterRateLimitError),
        (403, OpenRouterPermissionDeniedError),
    ],
)
def test_an_error_body_in_a_200_answer_raises_the_mapped_error(
    code: Any, expected: type[Exception]
) -> None:
    with pytest.raises(expected):
        ChunkAssembler().add(
            parse_completion(json.dumps({"error": {"code": code, "message": "bad"}}).encode())
        )


def test_a_mid_stream_error_keeps_what_came_before() -> None:
    assembler = ChunkAssembler()
    assembler.add(parse_completion(_chunk({"content": "partial text"})))
    failing = _chunk(
        {"content": ""}, "error", error={"code": 502, "message": "Provider returned error"}
    )

    with pytest.raises(OpenRouterAPIError, match="Provider returned error") as caught:
        assembler.add(parse_completion(failing))

    assert caught.value.status_code == 502
    assert caught.value.generation_id == ENVELOPE["id"]
    assert caught.value.partial_message is not None
    assert caught.value.partial_message.text == "partial text"


@pytest.mark.parametrize("raw", [b"{not json", b'{"choices": "nope"}', b"<html>502</html>", b""])
def test_unreadable_answers_raise_an_api_error_with_an_excerpt(raw: bytes) -> None:
    with pytest.raises(OpenRouterAPIError, match="could not be read") as caught:
        parse_completion(raw)
    assert caught.value.body is not None
    assert caught.value.body["raw"] == raw.decode().strip()


def test_reasoning_and_its_details_are_kept_for_sending_back() -> None:
    details = [
        {"type": "reasoning.encrypted", "data": "opaque", "format": "google-gemini-v1", "index": 0}
    ]
    raw = _recorded().replace(
        b'"reasoning": null',
        b'"reasoning": "Planning the scene", "reasoning_details": ' + json.dumps(details).encode(),
    )

    message = message_from_completion(parse_completion(raw))

    assert message.content[0] == {
        "type": "reasoning",
        "reasoning": "Planning the scene",
        "index": 0,
    }
    assert message.additional_kwargs["reasoning_details"] == details
    resent = to_openrouter_messages([HumanMessage("draw"), message, HumanMessage("again")])
    assert resent[1]["reasoning_details"] == details
    assert resent[1]["content"] == "Here you go"


def test_finish_reason_error_without_an_error_object_still_raises() -> None:
    assembler = ChunkAssembler()
    assembler.add(parse_completion(_chunk({"content": "partial"})))
    with pytest.raises(OpenRouterAPIError, match="finish_reason error") as caught:
        assembler.add(parse_completion(_chunk({"content": ""}, "error")))
    assert caught.value.partial_message is not None
    assert caught.value.partial_message.text == "partial"
