"""ObjectImageStore on real obstore stores: memory, a folder, and S3 served by moto on loopback."""

from __future__ import annotations

import asyncio
import functools
import http.server
import io
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import obstore
import pytest
from obstore.store import LocalStore, MemoryStore, S3Store
from PIL import Image

from langchain_nanobanana.object_store import ObjectImageStore
from langchain_nanobanana.scopes import Scope, scope_token
from langchain_nanobanana.stores import ImageStore, UnknownImageError
from langchain_nanobanana.stores._backend import HandleTakenError

ALICE: Scope = ("user", "alice")
BOB: Scope = ("user", "bob")


def _image(fmt: str = "PNG", color: str = "purple", size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def _paths(store: Any) -> set[str]:
    return {meta["path"] for meta in obstore.list(store).collect()}


@pytest.fixture(params=["memory", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return MemoryStore() if request.param == "memory" else LocalStore(tmp_path)


@pytest.fixture
def backend(store: Any) -> ObjectImageStore:
    return ObjectImageStore(store)


# ------------------------------------------------------------------ images


def test_round_trip_keeps_the_exact_bytes_and_mime_type(
    store: Any, backend: ObjectImageStore
) -> None:
    images = ImageStore(backend, scope=ALICE)
    png, jpeg = _image("PNG"), _image("JPEG", "orange")

    first, second = images.put(png, prompt="a banana"), images.put(jpeg)

    assert images.get(first).data == png
    assert images.get(first).mime_type == "image/png"
    assert images.get(first).size == (40, 30)
    assert images.get(second).data == jpeg
    assert images.get(second).mime_type == "image/jpeg"
    assert images.metadata(first)["prompt"] == "a banana"
    base = f"nanobanana/{scope_token(ALICE)}"
    assert _paths(store) == {
        f"{base}/{first}",
        f"{base}/{first}.json",
        f"{base}/{second}",
        f"{base}/{second}.json",
    }


def test_the_bytes_object_carries_the_content_type_where_the_store_keeps_one(
    store: Any, backend: ObjectImageStore
) -> None:
    handle = ImageStore(backend, scope=ALICE).put(_image("JPEG"))

    attributes = obstore.get(store, f"nanobanana/{scope_token(ALICE)}/{handle}").attributes

    # LocalStore keeps no attributes: the write is retried without them.
    expected = {} if isinstance(store, LocalStore) else {"Content-Type": "image/jpeg"}
    assert attributes == expected


def test_prefix_places_every_object_and_an_empty_prefix_is_the_root(store: Any) -> None:
    nested = ImageStore(ObjectImageStore(store, prefix="/apps/demo/"), scope=ALICE)
    root = ImageStore(ObjectImageStore(store, prefix=""), scope=BOB)

    first, second = nested.put(_image()), root.put(_image())

    assert _paths(store) == {
        f"apps/demo/{scope_token(ALICE)}/{first}",
        f"apps/demo/{scope_token(ALICE)}/{first}.json",
        f"{scope_token(BOB)}/{second}",
        f"{scope_token(BOB)}/{second}.json",
    }
    assert nested.get(first).data == root.get(second).data


def test_scopes_are_isolated(backend: ObjectImageStore) -> None:
    alice, bob = ImageStore(backend, scope=ALICE), ImageStore(backend, scope=BOB)
    handle = alice.put(_image())

    with pytest.raises(UnknownImageError):
        bob.get(handle)
    with pytest.raises(UnknownImageError):
        bob.metadata(handle)
    with pytest.raises(UnknownImageError):
        bob.url(handle)
    with pytest.raises(UnknownImageError):
        asyncio.run(bob.aurl(handle))
    bob.delete(handle)
    assert alice.get(handle).data == _image()


def test_create_is_create_only(backend: ObjectImageStore) -> None:
    handle = "img_" + "ab" * 16
    first, second = _image(color="red"), _image(color="blue")
    backend.create(ALICE, handle, first, {"mime_type": "image/png"}, None)

    with pytest.raises(HandleTakenError):
        backend.create(ALICE, handle, second, {"mime_type": "image/jpeg"}, None)

    stored = backend.read(ALICE, handle)
    assert stored is not None
    assert stored.data == first
    assert stored.record == {"mime_type": "image/png"}


def test_bytes_that_hold_a_handle_without_a_record_give_the_handle_back(
    store: Any, backend: ObjectImageStore
) -> None:
    handle = "img_" + "cd" * 16
    path = f"nanobanana/{scope_token(ALICE)}/{handle}"
    obstore.put(store, path, b"someone else's")

    with pytest.raises(HandleTakenError):
        backend.create(ALICE, handle, _image(), {"mime_type": "image/png"}, None)
    assert _paths(store) == {path}, "the claimed record is given back"

    with pytest.raises(HandleTakenError):
        asyncio.run(backend.acreate(ALICE, handle, _image(), {"mime_type": "image/png"}, None))
    assert _paths(store) == {path}, "the same, async"
    assert bytes(obstore.get(store, path).bytes()) == b"someone else's"


def test_delete_removes_bytes_and_record_and_an_unknown_handle_is_fine(
    store: Any, backend: ObjectImageStore
) -> None:
    images = ImageStore(backend, scope=ALICE)
    handle, kept = images.put(_image()), images.put(_image(color="green"))

    images.delete(handle)
    images.delete(handle)
    images.delete("img_" + "00" * 16)

    with pytest.raises(UnknownImageError):
        images.get(handle)
    assert images.get(kept).data == _image(color="green")
    assert not any(handle in path for path in _paths(store))


def test_a_damaged_record_makes_the_image_unknown(store: Any, backend: ObjectImageStore) -> None:
    images = ImageStore(backend, scope=ALICE)
    broken, listed = images.put(_image()), images.put(_image())
    base = f"nanobanana/{scope_token(ALICE)}"
    obstore.put(store, f"{base}/{broken}.json", b"{not json")
    obstore.put(store, f"{base}/{listed}.json", b"[1, 2]")

    for handle in (broken, listed):
        with pytest.raises(UnknownImageError):
            images.get(handle)
        with pytest.raises(UnknownImageError):
            images.metadata(handle)


async def test_bytes_whose_record_is_gone_are_unknown(
    store: Any, backend: ObjectImageStore
) -> None:
    # A lifecycle rule may delete an expired image's record before its bytes.
    images = ImageStore(backend, scope=ALICE, ttl=timedelta(seconds=-1))
    handle = images.put(_image("JPEG"))
    obstore.delete(store, f"nanobanana/{scope_token(ALICE)}/{handle}.json")

    with pytest.raises(UnknownImageError):
        images.get(handle)
    with pytest.raises(UnknownImageError):
        await images.aget(handle)


def test_an_expired_image_reads_as_gone(backend: ObjectImageStore) -> None:
    images = ImageStore(backend, scope=ALICE, ttl=timedelta(seconds=-1))
    handle = images.put(_image())

    with pytest.raises(UnknownImageError):
        images.get(handle)


# -------------------------------------------------------------------- urls


def test_no_url_from_a_store_that_cannot_sign(backend: ObjectImageStore) -> None:
    images = ImageStore(backend, scope=ALICE)

    assert images.url(images.put(_image())) is None


def test_a_public_url_is_the_base_and_the_object_path(store: Any) -> None:
    images = ImageStore(
        ObjectImageStore(store, public_url="https://cdn.example.com/pictures/"), scope=ALICE
    )
    by_function = ImageStore(
        ObjectImageStore(store, public_url=lambda path: f"https://img.example.com/p/{path}"),
        scope=ALICE,
    )
    handle = images.put(_image())

    path = f"nanobanana/{scope_token(ALICE)}/{handle}"
    assert images.url(handle) == f"https://cdn.example.com/pictures/{path}"
    assert by_function.url(handle) == f"https://img.example.com/p/{path}"


def test_a_public_url_over_a_served_folder_loads_the_image(tmp_path: Path) -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        images = ImageStore(ObjectImageStore(LocalStore(tmp_path), public_url=base), scope=ALICE)
        handle = images.put(_image())

        url = images.url(handle)
        assert url is not None
        response = httpx.get(url)
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 200
    assert response.content == _image()


# ------------------------------------------------------------------- notes


def test_notes_write_read_replace_list_and_delete(backend: ObjectImageStore) -> None:
    backend.write_note(ALICE, "calls", "call/1?", {"n": 1}, None)
    backend.write_note(ALICE, "calls", "call-2", {"n": 2}, None)
    backend.write_note(ALICE, "spend", "call/1?", {"usd": 0.04}, None)
    backend.write_note(BOB, "calls", "call/1?", {"n": "bob"}, None)

    assert backend.read_note(ALICE, "calls", "call/1?") == {"n": 1}
    backend.write_note(ALICE, "calls", "call/1?", {"n": 10}, None)
    assert backend.read_note(ALICE, "calls", "call/1?") == {"n": 10}
    assert sorted(note["n"] for note in backend.list_notes(ALICE, "calls")) == [2, 10]
    assert backend.list_notes(ALICE, "spend") == [{"usd": 0.04}]
    assert backend.list_notes(ALICE, "none") == []

    backend.delete_note(ALICE, "calls", "call/1?")
    backend.delete_note(ALICE, "calls", "never written")
    assert backend.read_note(ALICE, "calls", "call/1?") is None
    assert backend.list_notes(ALICE, "calls") == [{"n": 2}]
    assert backend.read_note(BOB, "calls", "call/1?") == {"n": "bob"}


def test_notes_sit_under_the_scope_and_kind_by_a_digest_of_the_key(
    store: Any, backend: ObjectImageStore
) -> None:
    backend.write_note(ALICE, "calls", "../../escape", {"n": 1}, None)

    (path,) = _paths(store)
    folder, name = path.rsplit("/", 1)
    assert folder == f"nanobanana/{scope_token(ALICE)}/notes/calls"
    assert len(name) == len("0" * 32 + ".json")


def test_a_damaged_note_reads_as_missing(store: Any, backend: ObjectImageStore) -> None:
    backend.write_note(ALICE, "calls", "good", {"n": 1}, None)
    backend.write_note(ALICE, "calls", "bad", {"n": 2}, None)
    (bad,) = (path for path in _paths(store) if obstore.get(store, path).bytes() == b'{"n":2}')
    obstore.put(store, bad, b"\xff not json")

    assert backend.read_note(ALICE, "calls", "bad") is None
    assert backend.list_notes(ALICE, "calls") == [{"n": 1}]


@pytest.mark.parametrize("kind", ["", "a/b"])
def test_a_note_kind_is_one_path_segment(backend: ObjectImageStore, kind: str) -> None:
    with pytest.raises(ValueError, match="note kind"):
        backend.write_note(ALICE, kind, "k", {}, None)


# ------------------------------------------------------------------ forget


def test_forget_removes_one_scope_and_counts_its_images(
    store: Any, backend: ObjectImageStore
) -> None:
    alice, bob = ImageStore(backend, scope=ALICE), ImageStore(backend, scope=BOB)
    gone = [alice.put(_image()), alice.put(_image(color="red"))]
    backend.write_note(ALICE, "calls", "x", {"n": 1}, None)
    kept = bob.put(_image(color="blue"))
    backend.write_note(BOB, "calls", "x", {"n": 2}, None)

    assert alice.forget() == 2
    assert alice.forget() == 0

    for handle in gone:
        with pytest.raises(UnknownImageError):
            alice.get(handle)
    assert backend.list_notes(ALICE, "calls") == []
    assert all(scope_token(ALICE) not in path for path in _paths(store))
    assert bob.get(kept).data == _image(color="blue")
    assert backend.list_notes(BOB, "calls") == [{"n": 2}]


def test_forget_on_a_self_cleaning_folder_leaves_no_trace(tmp_path: Path) -> None:
    backend = ObjectImageStore(LocalStore(tmp_path, automatic_cleanup=True))
    ImageStore(backend, scope=ALICE).put(_image())
    backend.write_note(ALICE, "calls", "x", {"n": 1}, None)

    assert backend.forget(ALICE) == 1
    assert list(tmp_path.iterdir()) == [], "no folder named after the scope is left"


# ------------------------------------------------------------------- async


@pytest.fixture
def no_sync_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """obstore's blocking calls fail; the streams the async calls return refuse
    to be read in a blocking way. Only the *_async paths still work."""

    def refuse(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"blocking obstore.{name} called from an async method")

        return call

    for name in ("put", "get", "get_range", "get_ranges", "delete", "head", "sign", "copy"):
        monkeypatch.setattr(obstore, name, refuse(name))

    class AsyncOnly:
        def __init__(self, inner: Any, blocking: tuple[str, ...]) -> None:
            self._inner, self._blocking = inner, blocking

        def __getattr__(self, name: str) -> Any:
            if name in self._blocking:
                raise AssertionError(f"blocking {name}() called from an async method")
            return getattr(self._inner, name)

        def __iter__(self) -> Any:
            raise AssertionError("blocking iteration called from an async method")

        def __aiter__(self) -> Any:
            return self._inner.__aiter__()

    real_get_async, real_list = obstore.get_async, obstore.list

    async def get_async(*args: Any, **kwargs: Any) -> Any:
        return AsyncOnly(await real_get_async(*args, **kwargs), ("bytes", "buffer", "stream"))

    def list_(*args: Any, **kwargs: Any) -> Any:
        return AsyncOnly(real_list(*args, **kwargs), ("collect", "__next__"))

    monkeypatch.setattr(obstore, "get_async", get_async)
    monkeypatch.setattr(obstore, "list", list_)


async def _async_cycle(backend: ObjectImageStore) -> str | None:
    """Every async method once; returns the image's URL."""
    alice, bob = ImageStore(backend, scope=ALICE), ImageStore(backend, scope=BOB)
    data = _image("PNG", "green")
    handle = await alice.aput(data, prompt="async")
    kept = await bob.aput(_image(color="blue"))

    image = await alice.aget(handle)
    assert (image.data, image.mime_type) == (data, "image/png")
    assert (await alice.ametadata(handle))["prompt"] == "async"
    with pytest.raises(UnknownImageError):
        await bob.aget(handle)
    with pytest.raises(HandleTakenError):
        await backend.acreate(ALICE, handle, b"other", {"mime_type": "image/png"}, None)
    assert (await alice.aget(handle)).data == data
    url = await alice.aurl(handle)

    await backend.awrite_note(ALICE, "calls", "a", {"n": 1}, None)
    await backend.awrite_note(ALICE, "calls", "b", {"n": 2}, None)
    assert await backend.aread_note(ALICE, "calls", "a") == {"n": 1}
    assert sorted(n["n"] for n in await backend.alist_notes(ALICE, "calls")) == [1, 2]
    await backend.adelete_note(ALICE, "calls", "a")
    await backend.adelete_note(ALICE, "calls", "a")
    assert await backend.aread_note(ALICE, "calls", "a") is None

    second = await alice.aput(_image(color="red"))
    await alice.adelete(second)
    with pytest.raises(UnknownImageError):
        await alice.aget(second)

    assert await alice.aforget() == 1
    with pytest.raises(UnknownImageError):
        await alice.aget(handle)
    assert await backend.alist_notes(ALICE, "calls") == []
    assert (await bob.aget(kept)).data == _image(color="blue")
    return url


async def test_async_methods_round_trip(backend: ObjectImageStore) -> None:
    assert await _async_cycle(backend) is None


async def test_async_methods_do_no_blocking_store_io(
    backend: ObjectImageStore, no_sync_io: None
) -> None:
    with pytest.raises(AssertionError, match=r"blocking obstore\.put"):
        ImageStore(backend).put(_image())  # the guard itself works

    assert await _async_cycle(backend) is None


async def test_async_public_url(store: Any) -> None:
    images = ImageStore(ObjectImageStore(store, public_url="https://cdn.example.com"), scope=ALICE)
    handle = await images.aput(_image())

    path = f"nanobanana/{scope_token(ALICE)}/{handle}"
    assert await images.aurl(handle) == f"https://cdn.example.com/{path}"


# ------------------------------------------------------------ construction


def test_importing_needs_no_obstore_and_constructing_says_how_to_install() -> None:
    program = (
        "import sys\n"
        "sys.modules['obstore'] = None\n"
        "import langchain_nanobanana\n"
        "from langchain_nanobanana.object_store import ObjectImageStore\n"
        "try:\n"
        "    ObjectImageStore(object())\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )

    assert 'pip install "langchain-nanobanana[obstore]"' in result.stdout


def test_only_obstore_stores_and_positive_expiry_are_accepted() -> None:
    with pytest.raises(TypeError, match="pass an obstore store"):
        ObjectImageStore({})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        ObjectImageStore(MemoryStore(), url_expires_in=timedelta(0))


def test_image_store_takes_it_as_its_backend() -> None:
    backend = ObjectImageStore(MemoryStore())

    assert ImageStore(backend).backend is backend


# --------------------------------------------------------- S3 through moto


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


SECRET = "moto-secret-key"


@pytest.fixture
def s3(s3_endpoint: str) -> S3Store:
    bucket = f"images-{uuid.uuid4().hex[:12]}"
    httpx.put(f"{s3_endpoint}/{bucket}").raise_for_status()
    return S3Store(
        bucket,
        endpoint=s3_endpoint,
        access_key_id="test",
        secret_access_key=SECRET,
        region="us-east-1",
        client_options={"allow_http": True},
        retry_config={"max_retries": 1, "retry_timeout": timedelta(seconds=5)},
    )


def _check_signature(url: str) -> dict[str, str]:
    """Recompute the URL's SigV4 query signature with botocore: what S3 itself checks."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    signature = query.pop("X-Amz-Signature")
    auth = S3SigV4QueryAuth(
        Credentials("test", SECRET), "s3", "us-east-1", expires=int(query["X-Amz-Expires"])
    )
    unsigned = urlunsplit(parts._replace(query=urlencode(query)))
    request = AWSRequest(method="GET", url=unsigned, headers={"host": parts.netloc})
    request.context["timestamp"] = query["X-Amz-Date"]
    canonical = auth.canonical_request(request)
    assert signature == auth.signature(auth.string_to_sign(request, canonical), request)
    return query


def test_s3_round_trip_and_a_signed_url_that_loads_the_image(s3: S3Store) -> None:
    backend = ObjectImageStore(s3, url_expires_in=timedelta(minutes=5))
    images = ImageStore(backend, scope=ALICE)
    data = _image("PNG", "yellow")
    handle = images.put(data)

    assert images.get(handle).data == data
    assert images.get(handle).mime_type == "image/png"
    path = f"nanobanana/{scope_token(ALICE)}/{handle}"
    assert obstore.get(s3, path).attributes == {"Content-Type": "image/png"}

    url = images.url(handle)
    assert url is not None
    assert url.startswith(f"{s3_url(s3)}/{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    query = _check_signature(url)
    assert query["X-Amz-Expires"] == "300"
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=timezone.utc
    )
    assert abs(datetime.now(timezone.utc) - signed_at) < timedelta(minutes=1)
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    assert "url" not in str(images.metadata(handle)).lower(), "no signed URL is kept"


def s3_url(store: S3Store) -> str:
    config = store.config
    return f"{config['endpoint']}/{config['bucket']}"


def test_s3_url_expiry_is_the_configured_one(s3: S3Store) -> None:
    images = ImageStore(ObjectImageStore(s3, url_expires_in=timedelta(seconds=1)), scope=ALICE)
    handle = images.put(_image())

    url = images.url(handle)
    assert url is not None
    assert _check_signature(url)["X-Amz-Expires"] == "1"


def test_s3_a_public_url_wins_over_signing(s3: S3Store) -> None:
    images = ImageStore(ObjectImageStore(s3, public_url="https://cdn.example.com"), scope=ALICE)
    handle = images.put(_image())

    assert images.url(handle) == f"https://cdn.example.com/nanobanana/{scope_token(ALICE)}/{handle}"


def test_s3_create_only_scopes_notes_and_forget(s3: S3Store) -> None:
    backend = ObjectImageStore(s3)
    handle = "img_" + "12" * 16
    backend.create(ALICE, handle, b"first", {"mime_type": "image/png"}, None)
    with pytest.raises(HandleTakenError):
        backend.create(ALICE, handle, b"second", {"mime_type": "image/png"}, None)
    stored = backend.read(ALICE, handle)
    assert stored is not None
    assert stored.data == b"first"
    assert backend.read(BOB, handle) is None

    backend.write_note(ALICE, "calls", "k", {"n": 1}, None)
    assert backend.list_notes(ALICE, "calls") == [{"n": 1}]
    bob = ImageStore(backend, scope=BOB).put(_image())

    assert backend.forget(ALICE) == 1
    assert backend.read(ALICE, handle) is None
    assert backend.list_notes(ALICE, "calls") == []
    assert _paths(s3) == {
        f"nanobanana/{scope_token(BOB)}/{bob}",
        f"nanobanana/{scope_token(BOB)}/{bob}.json",
    }


async def test_s3_async_methods_do_no_blocking_io_and_sign_a_working_url(
    s3: S3Store, no_sync_io: None
) -> None:
    url = await _async_cycle(ObjectImageStore(s3))

    assert url is not None
    _check_signature(url)
    # The image is forgotten by now: the URL is still well signed, and S3 says 404.
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 404


async def test_s3_async_signed_url_loads_the_image(s3: S3Store) -> None:
    images = ImageStore(ObjectImageStore(s3), scope=ALICE)
    data = _image("JPEG", "teal")
    handle = await images.aput(data)

    url = await images.aurl(handle)
    assert url is not None
    assert _check_signature(url)["X-Amz-Expires"] == "3600"
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert (response.status_code, response.content) == (200, data)
    assert response.headers["content-type"] == "image/jpeg"


# ------------------------------------------------ the tool's "url" artifact mode


def _tool_call(call_id: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": "generate_image", "args": args}


def _no_long_base64(message: Any) -> bool:
    import json
    import re

    dumped = json.dumps([message.content, message.artifact], default=repr)
    return re.search(r"[A-Za-z0-9+/]{200,}", dumped) is None


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_url_mode_puts_a_url_in_the_artifact_and_edits_send_it(fake: Any, mode: str) -> None:
    from langchain_nanobanana import NanoBananaImageTool

    backend = ObjectImageStore(MemoryStore(), public_url="https://cdn.example.com/")
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=backend, artifact_mode="url")
    config = {"configurable": {"user_id": "alice"}}

    def run(call: dict[str, Any]) -> Any:
        if mode == "sync":
            return tool.invoke(call, config)
        return asyncio.run(tool.ainvoke(call, config))

    made = run(_tool_call("c1", prompt="a banana"))

    (block,) = made.artifact
    handle = block["id"]
    expected = f"https://cdn.example.com/nanobanana/{scope_token(('user', 'alice'))}/{handle}"
    assert block == {
        "type": "image",
        "url": expected,
        "file_id": handle,
        "id": handle,
        "mime_type": "image/png",
        "extras": {"width": 1024, "height": 1024, "bytes": block["extras"]["bytes"]},
    }
    assert _no_long_base64(made)

    edited = run(_tool_call("c2", prompt="make it blue", image_ids=[handle]))

    assert edited.status == "success"
    sent = fake.requests[-1].body["messages"][-1]["content"]
    assert sent[1] == {"type": "image_url", "image_url": {"url": expected}}
    assert fake.requests[-1].size < 2_000, "a URL, not megabytes of base64"
    # Another user's handle gets no URL, and nothing is sent.
    config = {"configurable": {"user_id": "bob"}}
    refused = run(_tool_call("c3", prompt="steal", image_ids=[handle]))
    assert refused.status == "error" and "No image has the handle" in refused.content
    assert len(fake.requests) == 2


def test_url_mode_without_a_url_keeps_the_reference_and_edits_send_bytes(
    fake: Any, tmp_path: Path
) -> None:
    from langchain_nanobanana import NanoBananaImageTool

    tool = NanoBananaImageTool(
        llm=fake.chat_model(), store=ObjectImageStore(LocalStore(tmp_path)), artifact_mode="url"
    )
    made = tool.invoke(_tool_call("c1", prompt="a banana"))
    (block,) = made.artifact
    assert "url" not in block and block["file_id"] == block["id"]
    assert _no_long_base64(made)

    tool.invoke(_tool_call("c2", prompt="edit", image_ids=[block["id"]]))
    part = fake.requests[-1].body["messages"][-1]["content"][1]
    assert part["image_url"]["url"].startswith("data:image/png;base64,")


def test_url_mode_on_s3_signs_a_url_a_browser_loads_but_edits_send_bytes_from_loopback(
    fake: Any, s3: S3Store
) -> None:
    from langchain_nanobanana import NanoBananaImageTool

    tool = NanoBananaImageTool(
        llm=fake.chat_model(), store=ObjectImageStore(s3), artifact_mode="url"
    )
    made = tool.invoke(_tool_call("c1", prompt="a banana"))
    (block,) = made.artifact
    _check_signature(block["url"])
    assert httpx.get(block["url"]).content == tool.images.get(block["id"]).data

    # OpenRouter cannot fetch from 127.0.0.1, so the edit carries the bytes.
    tool.invoke(_tool_call("c2", prompt="edit", image_ids=[block["id"]]))
    part = fake.requests[-1].body["messages"][-1]["content"][1]
    assert part["image_url"]["url"].startswith("data:image/png;base64,")
    # A replayed call re-signs: the URL is fresh, never one kept from before.
    replayed = tool.invoke(_tool_call("c1", prompt="a banana"))
    assert replayed.artifact[0]["id"] == block["id"]
    _check_signature(replayed.artifact[0]["url"])
    remembered = json.dumps(tool.images.list_notes("calls"))
    assert block["id"] in remembered and "X-Amz" not in remembered, "the store keeps no URL"


@pytest.mark.parametrize(
    ("url", "fetchable"),
    [
        (
            "https://my-bucket.s3.eu-west-1.amazonaws.com/nanobanana/s1/img_1?X-Amz-Signature=1",
            True,
        ),
        ("https://cdn.example.com/a.png", True),
        ("https://8.8.8.8/a.png", True),
        ("http://cdn.example.com/a.png", False),  # plain http: not sent as a URL
        ("https://localhost:9000/a.png", False),
        ("https://minio.localhost/a.png", False),
        ("https://nas.local/a.png", False),
        ("https://bucket.internal/a.png", False),
        ("https://127.0.0.1:9000/a.png", False),
        ("https://10.0.0.7/a.png", False),
        ("https://192.168.1.2/a.png", False),
        ("https://[::1]/a.png", False),
        ("https://intranet/a.png", False),  # a bare name resolves only inside a network
        ("file:///etc/passwd", False),
    ],
)
def test_only_a_url_openrouter_can_reach_is_sent_as_a_url(url: str, fetchable: bool) -> None:
    from langchain_nanobanana._content.urls import fetchable_by_openrouter

    assert fetchable_by_openrouter(url) is fetchable
