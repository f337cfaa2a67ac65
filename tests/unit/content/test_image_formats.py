"""Image file formats: GeneratedImage.save writes what its extension names, Pillow
converts, and without Pillow only the image's own format is written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from langchain_nanobanana._content.image_formats import SizeBound, downscaled
from langchain_nanobanana.images import GeneratedImage
from tests.support.pictures import picture, without_pillow


@pytest.mark.parametrize(
    ("name", "pillow_format"),
    [("x.jpg", "JPEG"), ("x.JPEG", "JPEG"), ("x.webp", "WEBP"), ("x.gif", "GIF"), ("x.png", "PNG")],
)
def test_save_writes_the_format_its_extension_names(
    tmp_path: Path, name: str, pillow_format: str
) -> None:
    image = GeneratedImage.from_bytes(picture("orange", (40, 30), "PNG"))
    written = image.save(tmp_path / name)
    with Image.open(written) as saved:
        assert (saved.format, saved.size) == (pillow_format, (40, 30))


def test_save_without_an_extension_or_into_a_folder_keeps_the_bytes(tmp_path: Path) -> None:
    image = GeneratedImage(picture("orange", (40, 30), "JPEG"), "image/jpeg", "img_1")
    assert image.save(tmp_path / "plain").read_bytes() == image.data
    assert image.save(tmp_path).name == "img_1.jpg"
    assert (tmp_path / "img_1.jpg").read_bytes() == image.data


def test_an_extension_that_names_no_image_format_is_refused(tmp_path: Path) -> None:
    image = GeneratedImage.from_bytes(picture())
    with pytest.raises(ValueError, match=r"name the file \.png, \.jpg, \.webp or \.gif"):
        image.save(tmp_path / "x.bmp")
    assert list(tmp_path.iterdir()) == []


def test_without_pillow_only_the_images_own_format_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = GeneratedImage.from_bytes(picture("orange", (40, 30), "PNG"))
    without_pillow(monkeypatch)
    with pytest.raises(ValueError, match=r"Converting PNG to JPEG needs Pillow: pip install"):
        image.save(tmp_path / "x.jpg")
    assert list(tmp_path.iterdir()) == [], "no PNG bytes under a .jpg name"
    assert image.save(tmp_path / "x.png").read_bytes() == image.data


def test_damaged_bytes_are_a_value_error_not_a_pillow_one(tmp_path: Path) -> None:
    image = GeneratedImage(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png")
    with pytest.raises(ValueError, match="Pillow cannot decode it"):
        image.save(tmp_path / "x.jpg")


def test_a_downscaled_copy_keeps_within_its_bound() -> None:
    noise = Image.effect_noise((2400, 1600), 80).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    bound = SizeBound(long_side=1024, max_bytes=150_000)

    small = downscaled(buffer.getvalue(), bound)

    assert len(small) <= bound.max_bytes
    with Image.open(io.BytesIO(small)) as copy:
        assert copy.format == "JPEG"
        assert max(copy.size) <= 1024
        assert copy.size[0] / copy.size[1] == pytest.approx(1.5, abs=0.01)
