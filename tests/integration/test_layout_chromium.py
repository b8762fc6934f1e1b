"""Every default notification rendered by headless Chromium, to PNG files kept as artifacts.

Each default (every kind, as the sample helpdesk sends it) is written as an HTML file
and screenshot at a phone's size (390x844) and a desktop's (1024x900). The PNGs go to
``$HELPDESK_ARTIFACTS/notifications`` (default ``build/artifacts/notifications``,
ignored by git; CI keeps the directory as an artifact). Each PNG must have the window's
size and show something: non-white pixels, in the left and the right half at desktop
size (the 600 px column is centred).

Chromium is Debian's ``chromium``: installed with apt when missing (as the Dovecot and
NSD scripts do); the test is skipped, saying why, only when it cannot be installed
(no apt-get, or not root and no sudo).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.samples.preview import (
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"phone": (390, 844), "desktop": (1024, 900)}
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def _apt_install(package: str) -> str | None:
    """Install `package` with apt-get; None when done, else why it could not be."""
    apt = shutil.which("apt-get")
    if apt is None:
        return "no apt-get on this machine"
    sudo: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return "not root and no sudo"
        sudo = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, apt, "install", "-y", "-qq", "--no-install-recommends", package]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode == 0:
        return None
    subprocess.run([*sudo, apt, "update", "-qq"], env=env, capture_output=True, check=False)
    done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    return None if done.returncode == 0 else f"apt-get install {package} failed: {done.stderr}"


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        why = _apt_install("chromium")
        if why is not None:
            pytest.skip(f"Chromium is missing and cannot be installed: {why}")
        found = shutil.which("chromium")
        assert found is not None, "apt-get installed chromium but it is not on PATH"
    return found


@pytest.fixture(scope="module")
def artifacts() -> Path:
    base = Path(os.environ.get("HELPDESK_ARTIFACTS") or ROOT / "build" / "artifacts")
    out = base / "notifications"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def profile() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="hm-chromium-") as directory:
        yield directory


def _page(kind: TemplateKind) -> str:
    messages = render_message(
        sample_planned(kind),
        None,
        sample_settings(),
        sample_storage(),
        sample_clock(),
        sample_random(),
    )
    assert messages
    part = messages[0].get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB(A) PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        filt = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if filt == 0 or (filt == 2 and not any(line)):  # as is, or the row above again
            line = line if filt == 0 else bytearray(previous)
            rows.append(bytes(line))
            previous = line
            continue
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            if filt == 1:
                line[x] = (line[x] + a) & 0xFF
            elif filt == 2:
                line[x] = (line[x] + b) & 0xFF
            elif filt == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    if bpp == 4:  # drop the alpha channel
        rows = [b"".join(r[i : i + 3] for i in range(0, len(r), 4)) for r in rows]
    return width, height, rows


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("kind", list(TemplateKind), ids=[k.value for k in TemplateKind])
def test_default_renders_in_chromium(
    kind: TemplateKind, size: str, chromium: str, artifacts: Path, profile: str
) -> None:
    width, height = SIZES[size]
    page = artifacts / f"{kind.value}.html"
    page.write_text(_page(kind), encoding="utf-8")
    png = artifacts / f"{kind.value}-{size}.png"
    png.unlink(missing_ok=True)
    run = subprocess.run(
        [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert png.is_file() and png.stat().st_size > 0, run.stderr[-2000:]
    got_width, got_height, rows = _png_pixels(png.read_bytes())
    assert (got_width, got_height) == (width, height)
    ink = [sum(1 for v in row if v < 200) for row in rows]
    assert sum(ink) > 1000, "the screenshot is (nearly) blank"
    if size == "desktop":  # the column is centred: nothing drawn at the far left or right
        margin = (width - 600) // 2 - 20
        for row in rows:
            outside = row[: margin * 3] + row[-margin * 3 :]
            assert min(outside) >= 250, "drawn outside the column"
