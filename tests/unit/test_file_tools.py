"""File tools: everything happens inside the workspace, within the size limit, on regular files."""

from __future__ import annotations

import os

import pytest

from configs.settings import ToolsConfig
from tools.builtin.files import list_files, read_file, write_file
from tools.errors import ToolInputError, ToolUnavailableError


@pytest.fixture
def workspace(tmp_path):
    return tmp_path / "workspace"


@pytest.fixture
def config(workspace):
    return ToolsConfig(workspace_dir=str(workspace), max_file_bytes=64)


def test_write_then_read_round_trips_text(config):
    text = "买牛奶\nbuy milk\n"
    written = write_file("notes/todo.txt", text, config=config)
    assert written == {"path": "notes/todo.txt", "bytes_written": len(text.encode())}
    assert read_file("notes/todo.txt", config=config)["content"] == text


def test_workspace_is_created_when_missing(config, workspace):
    assert not workspace.exists()
    assert list_files(config=config)["entries"] == []
    assert workspace.is_dir()


def test_write_replaces_the_whole_file_and_leaves_no_temp_files(config, workspace):
    write_file("a.txt", "first version, longer", config=config)
    write_file("a.txt", "second", config=config)
    assert (workspace / "a.txt").read_text() == "second"
    assert [p.name for p in workspace.iterdir()] == ["a.txt"]


def test_listing_shows_names_types_and_sizes_sorted(config, workspace):
    write_file("b.txt", "hello", config=config)
    write_file("a/inner.txt", "x", config=config)
    listing = list_files(".", config=config)
    assert listing["entries"] == [
        {"name": "a", "type": "folder"},
        {"name": "b.txt", "type": "file", "size": 5},
    ]
    assert listing["truncated"] is False
    assert [e["name"] for e in list_files("a", config=config)["entries"]] == ["inner.txt"]


@pytest.mark.parametrize("path", ["../secret.txt", "a/../../secret.txt", "notes/../../x", ".."])
def test_dot_dot_is_refused(config, path):
    for call in (lambda: read_file(path, config=config), lambda: list_files(path, config=config)):
        with pytest.raises(ToolInputError, match=r"'\.\.'"):
            call()
    with pytest.raises(ToolInputError, match=r"'\.\.'"):
        write_file(path, "x", config=config)


def test_absolute_paths_are_refused(config, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    with pytest.raises(ToolInputError, match="absolute"):
        read_file(str(secret), config=config)
    with pytest.raises(ToolInputError, match="absolute"):
        write_file(str(tmp_path / "new.txt"), "x", config=config)
    assert not (tmp_path / "new.txt").exists()


def test_symlinks_leading_out_of_the_workspace_are_refused(config, workspace, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (tmp_path / "elsewhere").mkdir()
    list_files(config=config)
    (workspace / "link").symlink_to(secret)
    (workspace / "dirlink").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ToolInputError, match="symlink"):
        read_file("link", config=config)
    with pytest.raises(ToolInputError, match="symlink"):
        write_file("link", "overwritten", config=config)
    with pytest.raises(ToolInputError, match="symlink"):
        write_file("dirlink/planted.txt", "x", config=config)
    with pytest.raises(ToolInputError, match="symlink"):
        list_files("dirlink", config=config)
    assert secret.read_text() == "secret"
    assert not (tmp_path / "elsewhere" / "planted.txt").exists()


def test_symlinks_within_the_workspace_are_followed(config, workspace):
    write_file("real.txt", "inside", config=config)
    (workspace / "alias").symlink_to(workspace / "real.txt")
    assert read_file("alias", config=config)["content"] == "inside"
    assert {"name": "alias", "type": "symlink"} in list_files(config=config)["entries"]


def test_size_limit_applies_to_reads_and_writes(config, workspace):
    with pytest.raises(ToolInputError, match="limit is 64"):
        write_file("big.txt", "x" * 65, config=config)
    assert not (workspace / "big.txt").exists()
    workspace.mkdir()
    (workspace / "big.txt").write_text("y" * 65)
    with pytest.raises(ToolInputError, match="limit is 64"):
        read_file("big.txt", config=config)
    write_file("exact.txt", "z" * 64, config=config)
    assert read_file("exact.txt", config=config)["content"] == "z" * 64


def test_special_files_and_folders_are_not_read(config, workspace):
    list_files(config=config)
    os.mkfifo(workspace / "pipe")
    (workspace / "folder").mkdir()
    with pytest.raises(ToolInputError, match="not a regular file"):
        read_file("pipe", config=config)
    with pytest.raises(ToolInputError, match="not a regular file"):
        write_file("pipe", "x", config=config)
    with pytest.raises(ToolInputError, match="not a regular file"):
        read_file("folder", config=config)
    with pytest.raises(ToolInputError, match="workspace folder itself"):
        write_file(".", "x", config=config)


def test_missing_binary_and_misplaced_paths_are_input_errors(config, workspace):
    with pytest.raises(ToolInputError, match="does not exist"):
        read_file("nope.txt", config=config)
    with pytest.raises(ToolInputError, match="does not exist"):
        list_files("nope", config=config)
    write_file("file.txt", "x", config=config)
    with pytest.raises(ToolInputError, match="not a folder"):
        list_files("file.txt", config=config)
    with pytest.raises(ToolInputError, match="is a file"):
        write_file("file.txt/child.txt", "x", config=config)
    (workspace / "blob.bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ToolInputError, match="not UTF-8"):
        read_file("blob.bin", config=config)


def test_write_dir_confines_write_file_to_a_sub_folder(workspace):
    """Bad writes tried: beside the sub-folder, the sub-folder itself, '..' out of it, and a
    symlink inside it that leads back to the workspace root."""
    config = ToolsConfig(workspace_dir=str(workspace), write_dir="out")
    assert write_file("out/a.txt", "ok", config=config)["bytes_written"] == 2
    for path in ("a.txt", "out", "out/../a.txt", "outside/out/a.txt"):
        with pytest.raises(ToolInputError):
            write_file(path, "no", config=config)
    os.symlink(workspace, workspace / "out" / "up")
    with pytest.raises(ToolInputError, match="tools.write_dir"):
        write_file("out/up/a.txt", "no", config=config)
    assert sorted(p.name for p in workspace.iterdir()) == ["out"]
    assert read_file("out/a.txt", config=config)["content"] == "ok"


def test_write_file_can_be_disabled(workspace):
    config = ToolsConfig(workspace_dir=str(workspace), write_dir=None)
    with pytest.raises(ToolUnavailableError, match="write_file is disabled"):
        write_file("a.txt", "no", config=config)
    assert not (workspace / "a.txt").exists()
