"""The package against a hostile server (raw bytes on loopback) and odd input.

One section per fault class of docs/reliability.md; each asserts the typed error
or the bounded outcome, through ``invoke``, ``ainvoke``, ``stream`` and ``astream``.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import SecretStr

from langchain_nanobanana import (
    ChatNanoBanana,
    GeneratedImage,
    NanoBananaImageTool,
    images_from,
)
from langchain_nanobanana._agent.answer import thumbnail as _thumbnail
from langchain_nanobanana._content import media as _media
from langchain_nanobanana._transport import limits as _limits
from langchain_nanobanana._transport import sse as _sse
from langchain_nanobanana._transport.connection import redacted
from langchain_nanobanana.errors import (
    OpenRouterAPIError,
    OpenRouterAuthenticationError,
    OpenRouterConnectionError,
    OpenRouterError,
    OpenRouterTimeoutError,
)
from langchain_nanobanana.scopes import DEFAULT_SCOPE, scope_token
from langchain_nanobanana.stores import (
    HANDLE_PATTERN,
    DirectoryByteStore,
    ImageStore,
    UnknownImageError,
)
from tests.support import TEST_KEY
from tests.support.hostile import (
    PNG,
    HostileServer,
    answer,
    completion,
    endless,
    events,
    gzip_bomb,
    held,
    keep_alives,
    trickle,
    whole_or_streamed,
)
from tests.support.modes import MODES, image_blocks, model, run

PNG_B64 = base64.b64encode(PNG).decode()


# ---------------------------------------------------------------- the key


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\0", " ", "é", "\u2028"])
def test_a_malformed_key_is_refused_at_construction_without_repeating_it(ending: str) -> None:
    key = TEST_KEY + ending
    with pytest.raises(OpenRouterAuthenticationError) as caught:
        ChatNanoBanana(api_key=key)
    assert TEST_KEY not in str(caught.value)
    assert "malformed" in str(caught.value)


def test_a_malformed_key_from_the_environment_is_refused_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY + "\r\n")
    with pytest.raises(OpenRouterAuthenticationError) as caught:
        ChatNanoBanana()
    assert TEST_KEY not in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_key_broken_after_construction_is_refused_before_sending(mode: str) -> None:
    with HostileServer(whole_or_streamed(completion())) as server:
        llm = model(server.url)
        llm.api_key = SecretStr(TEST_KEY + "\n")
        with pytest.raises(OpenRouterAuthenticationError) as caught:
            run(llm, mode)
    assert TEST_KEY not in str(caught.value)
    assert server.requests == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"])
def test_plain_http_never_goes_through_a_proxy(
    mode: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        HostileServer(whole_or_streamed(completion())) as proxy,
        HostileServer(whole_or_streamed(completion())) as server,
    ):
        monkeypatch.setenv(variable, proxy.url.removesuffix("/api/v1"))
        message = run(model(server.url), mode)
    assert image_blocks(message)
    assert proxy.requests == []
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "url", ["http://user:pass@127.0.0.1:1/api/v1", "https://:secret-pw@openrouter.ai/api/v1"]
)
def test_credentials_in_the_base_url_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="user name or password") as caught:
        ChatNanoBanana(api_key=TEST_KEY, base_url=url)
    assert url not in str(caught.value)
    assert "secret-pw" not in str(caught.value)


def test_transport_error_texts_are_redacted_of_the_key_in_any_form() -> None:
    key = TEST_KEY + "\u00e9\n"
    text = f"Illegal header value b'Bearer {key.encode()!r}' / {key!r} / {key}"
    assert TEST_KEY not in redacted(text, key)


@pytest.mark.parametrize(
    "fields", [{"base_url": "ftp://x"}, {"max_retries": -1}, {"aspect_ratio": "7:3"}]
)
def test_no_refused_setting_shows_the_key_in_its_error(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="validation error") as caught:
        ChatNanoBanana(api_key=TEST_KEY, **fields)
    assert TEST_KEY[:12] not in str(caught.value)


# ---------------------------------------------------------------- untyped failures


def _error(code: Any, **metadata: Any) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": "upstream", "metadata": metadata}}
    ).encode()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (503, b"{}", [("Retry-After", "soon, maybe")]),
        (503, b"{}", [("Retry-After", "Fri, 99 Foo 2026 99:99:99 GMT")]),
        (503, b"{}", [("Retry-After", "-5")]),
        (502, _error("\u00b2"), []),
        (502, _error(502, retry_after_seconds=-30), []),
        (429, _error(429, retry_after_seconds="later"), []),
        (502, b'{"error":' * 5000 + b"1" + b"}" * 5000, []),
        (500, b"[" * 100_000, []),
    ],
)
def test_odd_error_answers_are_typed_and_retried(
    mode: str, status: int, body: bytes, headers: list[tuple[str, str]], backoffs: list[float]
) -> None:
    # Each call on its own (no shared limit), so that a 429 is a retry like a 5xx; a 429
    # sent forever would otherwise keep the call in line until its deadline.
    with HostileServer(answer(body, status, headers)) as server, pytest.raises(OpenRouterError):
        run(model(server.url, max_retries=2, max_concurrency=None), mode)
    assert len(server.requests) == 3  # retried, as a 5xx/429 is
    assert all(0 <= wait <= 60 for wait in backoffs)


def test_a_negative_max_retries_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        ChatNanoBanana(api_key=TEST_KEY, max_retries=-1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("envelope", [{"id": "gen-1"}, {"id": "gen-1", "choices": []}])
def test_an_answer_without_choices_is_the_same_error_whole_or_streamed(
    mode: str, envelope: dict[str, Any]
) -> None:
    script = (
        events([json.dumps(envelope).encode(), b"[DONE]"])
        if mode.endswith("stream")
        else answer(json.dumps(envelope).encode())
    )
    with HostileServer(script) as server, pytest.raises(OpenRouterAPIError, match="no choices"):
        run(model(server.url), mode)


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize("content_type", ["TEXT/EVENT-STREAM", "Text/Event-Stream; charset=utf-8"])
def test_media_types_are_read_case_insensitively(mode: str, content_type: str) -> None:
    with HostileServer(whole_or_streamed(completion(), content_type)) as server:
        message = run(model(server.url), mode)
    assert image_blocks(message)[0]["base64"] == PNG_B64


# ---------------------------------------------------------------- the deadline


@pytest.mark.parametrize("mode", MODES)
def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(mode: str) -> None:
    content_type = "text/event-stream" if mode.endswith("stream") else "application/json"
    with HostileServer(trickle(every=0.2, content_type=content_type)) as server:
        started = time.monotonic()
        with pytest.raises(OpenRouterTimeoutError, match="deadline"):
            run(model(server.url, timeout=1.0, deadline=1.5), mode)
    # Unbounded before: each space reset the read timeout. Generous bound: 3x.
    assert time.monotonic() - started < 3 * 1.5


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_keep_alive_comments_cannot_hold_a_stream_past_its_deadline(mode: str) -> None:
    with HostileServer(keep_alives(every=0.2)) as server:
        started = time.monotonic()
        with pytest.raises(OpenRouterTimeoutError, match="deadline"):
            run(model(server.url, timeout=1.0, deadline=1.5), mode)
    assert time.monotonic() - started < 3 * 1.5


@pytest.mark.parametrize("mode", MODES)
def test_no_retry_starts_after_the_deadline(mode: str, backoffs: list[float]) -> None:
    # Each answer is a 503 that asks for a 30 s wait: the wait would end past the deadline.
    script = answer(b"{}", 503, [("Retry-After", "30")])
    with HostileServer(script) as server, pytest.raises(OpenRouterAPIError):
        run(model(server.url, max_retries=5, deadline=10.0), mode)
    assert len(server.requests) == 1
    assert backoffs == []


def test_the_default_deadline_fits_a_slow_4k_generation() -> None:
    # Published: 60-120 s and more for Gemini 3 Pro Image at 4K behind proxies.
    deadline = ChatNanoBanana(api_key=TEST_KEY).deadline
    assert deadline is not None and deadline >= 3 * 120


# ---------------------------------------------------------------- memory


@pytest.fixture
def small_caps(monkeypatch: pytest.MonkeyPatch) -> int:
    """Caps of 2 MB, so the tests move megabytes, not hundreds of them."""
    cap = 2 * 1024 * 1024
    monkeypatch.setattr(_limits, "MAX_ANSWER_BYTES", cap)
    monkeypatch.setattr(_sse, "MAX_EVENT_BYTES", cap // 2)
    monkeypatch.setattr(_sse, "MAX_EVENTS", 1_000)
    monkeypatch.setattr(_media, "MAX_REQUEST_MEDIA_BYTES", cap)
    return cap


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_bomb_stops_at_the_decompressed_cap(mode: str, small_caps: int) -> None:
    with (
        HostileServer(gzip_bomb(50 * small_caps)) as server,
        pytest.raises(OpenRouterAPIError, match="larger than 2 MB"),
    ):
        run(model(server.url), mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_declared_oversized_answer_is_refused_before_reading(mode: str, small_caps: int) -> None:
    script = answer(b"", headers=[("Content-Length", str(200 * 1024 * 1024))])
    with (
        HostileServer(script) as server,
        pytest.raises(OpenRouterAPIError, match="larger than"),
    ):
        run(model(server.url), mode)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_an_endless_answer_stops_at_the_cap(mode: str, small_caps: int) -> None:
    with (
        HostileServer(endless(b" " * 65536)) as server,
        pytest.raises(OpenRouterAPIError, match="larger than"),
    ):
        run(model(server.url), mode)


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize(
    ("piece", "said"),
    [
        (b"data: " + b"A" * 65536, "stream event over"),  # one line that never ends
        (b'data: {"choices":[]}\n\n', "events"),  # tiny events without end
    ],
)
def test_an_endless_stream_stops_at_a_cap(
    mode: str, piece: bytes, said: str, small_caps: int
) -> None:
    with (
        HostileServer(endless(piece, "text/event-stream")) as server,
        pytest.raises(OpenRouterAPIError, match=said),
    ):
        run(model(server.url), mode)


@pytest.mark.parametrize("mode", MODES)
def test_attachments_over_the_request_cap_are_refused_before_sending(
    mode: str, small_caps: int
) -> None:
    big_png = base64.b64encode(PNG + bytes(small_caps // 2)).decode()  # a 1 MB "PNG"
    photos = [{"type": "image", "base64": big_png, "mime_type": "image/png"}] * 3
    with (
        HostileServer(whole_or_streamed(completion())) as server,
        pytest.raises(ValueError, match="attachments"),
    ):
        run(model(server.url), mode, [HumanMessage(content=["edit", *photos])])
    assert server.requests == []


# ---------------------------------------------------------------- images checked by their bytes


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("image/svg+xml", base64.b64encode(b"<svg onload='alert(1)'/>").decode()),
        ("text/html", base64.b64encode(b"<html><script>x()</script></html>").decode()),
        ("image/png", base64.b64encode(b"hello").decode()),
        ("image/png", PNG_B64[:-8] + "!!!!" + PNG_B64[-4:]),  # damaged base64
        ('image/png" onerror="alert(1)', "#"),
    ],
)
def test_an_answer_image_that_is_no_image_is_refused_with_the_text_kept(
    mode: str, label: str, data: str
) -> None:
    with (
        HostileServer(whole_or_streamed(completion(images=[(label, data)]))) as server,
        pytest.raises(OpenRouterAPIError, match="refused") as caught,
    ):
        run(model(server.url), mode)
    partial = caught.value.partial_message
    assert partial is not None and partial.text == "Here it is."
    assert image_blocks(partial) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_good_image_labelled_wrongly_is_kept_under_its_real_type(mode: str) -> None:
    with HostileServer(
        whole_or_streamed(completion(images=[("image/svg+xml", PNG_B64)]))
    ) as server:
        (block,) = image_blocks(run(model(server.url), mode))
    assert block["mime_type"] == "image/png"
    assert base64.b64decode(block["base64"]) == PNG


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "data",
    [b"just some text, not a picture", b"MZ\x90\x00\x03 a windows program", b"\x7fELF\x02\x01"],
)
def test_attached_bytes_that_are_no_image_are_refused_whatever_their_label(
    mode: str, data: bytes
) -> None:
    photo = {"type": "image", "base64": base64.b64encode(data).decode(), "mime_type": "image/png"}
    with (
        HostileServer(whole_or_streamed(completion())) as server,
        pytest.raises(ValueError, match="Cannot send this image"),
    ):
        run(model(server.url), mode, [HumanMessage(content=["edit", photo])])
    assert server.requests == []


def test_the_notebook_display_escapes_what_a_block_said() -> None:
    image = GeneratedImage(b"GIF89a...", 'image/gif" onerror="alert(1)')
    shown = image._repr_mimebundle_()["text/html"]
    assert shown.count('"') == 2  # only the src attribute's own quotes
    assert 'onerror="' not in shown


@pytest.mark.parametrize("id", ["../escaped", "/etc/passwd", "..", "a/../../b", "..\\x", ""])
def test_save_to_a_folder_stays_in_the_folder(id: str, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    saved = GeneratedImage(PNG, "image/png", id or None).save(folder)
    assert saved.parent == folder
    assert saved.read_bytes() == PNG
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [saved.name]


def test_damaged_base64_in_a_block_is_a_value_error_not_binascii() -> None:
    block = {"type": "image", "base64": "iVBORw0KGgo=!!!", "mime_type": "image/png"}
    with pytest.raises(ValueError, match="damaged base64"):
        images_from([block])


# ---------------------------------------------------------------- the tool's thumbnail


def _bomb_png() -> bytes:
    """45 bytes that claim 100000x100000 pixels: a decompression bomb for a decoder."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )


@pytest.mark.parametrize("sync", [True, False])
@pytest.mark.parametrize(
    "picture",
    [_bomb_png(), PNG[:40] + b"broken", b"GIF89a" + b"\0" * 20],
    ids=["bomb", "cut", "gif"],
)
def test_a_thumbnail_that_cannot_be_made_is_a_tool_error_naming_the_stored_image(
    sync: bool, picture: bytes
) -> None:
    pytest.importorskip("PIL")
    data = base64.b64encode(picture).decode()
    with HostileServer(whole_or_streamed(completion(images=[("image/png", data)]))) as server:
        tool = NanoBananaImageTool(llm=model(server.url), show_image_to_model=True)
        call = {"type": "tool_call", "id": "c1", "name": "generate_image", "args": {"prompt": "x"}}
        message = tool.invoke(call) if sync else asyncio.run(tool.ainvoke(call))
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    (handle,) = HANDLE_PATTERN.findall(str(message.content))
    assert tool.images.get(handle).data == picture  # paid for, kept


@pytest.mark.parametrize("content", [b"<svg/>", b"<html></html>"])
def test_the_thumbnail_refuses_svg_and_html(content: bytes) -> None:
    with pytest.raises(ValueError, match="not an image"):
        _thumbnail(GeneratedImage(content, "image/png", "img_00000000"))


# ---------------------------------------------------------------- stores


@pytest.mark.parametrize("sync", [True, False])
def test_the_folder_store_never_reads_through_a_planted_symlink(sync: bool, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"password=hunter2")
    folder = tmp_path / "store"
    store = DirectoryByteStore(folder)
    handle = "img_" + "0badf00d" * 4
    key = f"{scope_token(DEFAULT_SCOPE)}.{handle}"  # where ImageStore would look
    (folder / key).symlink_to(secret)
    (folder / f"{key}.meta.json").symlink_to(secret)
    images = ImageStore(store)
    assert store.mget([key]) == [None]
    assert key not in list(store.yield_keys())
    with pytest.raises(UnknownImageError):
        images.get(handle) if sync else asyncio.run(images.aget(handle))
    with pytest.raises(UnknownImageError):
        images.metadata(handle)


@pytest.mark.parametrize("sync", [True, False])
@pytest.mark.parametrize(
    "record", [b"{not json", b"[1, 2]", b'{"width": 3}', b'{"mime_type": 7}', b"[" * 5000]
)
def test_a_damaged_metadata_record_is_an_unknown_image(
    sync: bool, record: bytes, tmp_path: Path
) -> None:
    images = ImageStore(DirectoryByteStore(tmp_path))
    handle = images.put(PNG, "image/png")
    (tmp_path / f"{scope_token(DEFAULT_SCOPE)}.{handle}.meta.json").write_bytes(record)
    with pytest.raises(UnknownImageError):
        images.get(handle) if sync else asyncio.run(images.aget(handle))
    with pytest.raises(UnknownImageError):
        images.metadata(handle)


# ---------------------------------------------------------------- resources


def _open_descriptors() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_loops_closed_by_hand_do_not_keep_their_sockets() -> None:
    with HostileServer(answer(json.dumps(completion()).encode()), keep_alive=True) as server:
        llm = model(server.url)
        for _ in range(3):  # warm up: imports, the first client
            loop = asyncio.new_event_loop()
            loop.run_until_complete(llm.ainvoke("a banana"))
            loop.close()
        before = _open_descriptors()
        for _ in range(40):
            loop = asyncio.new_event_loop()
            loop.run_until_complete(llm.ainvoke("a banana"))
            loop.close()
        after = _open_descriptors()
    # Before the fix each loop kept its client's sockets (and its selector): +80 here.
    assert after - before <= 4


def _wait_until(condition: Any) -> bool:
    """Whether ``condition()`` holds within 5 s (the server notices a close at once)."""
    for _ in range(100):
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["close", "with", "aclose", "async with"])
def test_closing_the_model_releases_its_connections(how: str) -> None:
    with HostileServer(answer(json.dumps(completion()).encode()), keep_alive=True) as server:
        llm = model(server.url)

        async def async_use() -> None:
            if how == "aclose":
                await llm.ainvoke("a banana")
                await llm.aclose()
            else:
                async with llm:
                    await llm.ainvoke("a banana")

        llm.invoke("a banana")  # a sync connection, kept alive in the pool
        if how == "close":
            llm.close()
        elif how == "with":
            with llm:
                llm.invoke("a banana")
        else:
            asyncio.run(async_use())
            llm.close()
        assert _wait_until(lambda: server.open_connections == 0)
        assert llm._get_transport().async_client_count() == 0
        assert image_blocks(llm.invoke("still usable"))


@pytest.mark.parametrize("sync", [True, False])
def test_waiting_for_a_pooled_connection_is_retried_and_said_as_such(
    sync: bool, backoffs: list[float]
) -> None:
    limits = httpx.Limits(max_connections=1)
    with HostileServer(held(completion(), seconds=0.8), keep_alive=True) as server:

        def both(retries: int) -> list[Any]:
            """Two calls over one connection; the second made with ``retries``."""
            clients: dict[str, Any] = (
                {"http_client": httpx.Client(limits=limits)}
                if sync
                else {"http_async_client": httpx.AsyncClient(limits=limits)}
            )
            # Each read waits at most 0.3 s (spaces come every 0.05 s); so does the pool.
            patient = model(server.url, max_retries=8, timeout=0.3, **clients)
            second = model(server.url, max_retries=retries, timeout=0.3, **clients)
            if sync:
                with ThreadPoolExecutor(2) as pool:
                    first = pool.submit(patient.invoke, "a")
                    time.sleep(0.2)  # the first takes the one connection
                    later = pool.submit(second.invoke, "b")
                    return [f.exception() or f.result() for f in (first, later)]

            async def run_two() -> list[Any]:
                first = asyncio.ensure_future(patient.ainvoke("a"))
                await asyncio.sleep(0.2)
                return await asyncio.gather(first, second.ainvoke("b"), return_exceptions=True)

            return asyncio.run(run_two())

        assert all(isinstance(result, AIMessage) for result in both(8))
        _, refused = both(0)
    assert backoffs  # the patient call waited and tried again
    assert isinstance(refused, OpenRouterConnectionError)
    assert "pooled connection" in str(refused)
