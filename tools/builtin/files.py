"""File tools confined to the configured workspace: relative paths only, no way out, no specials.

A path is refused when it is absolute, has a ``..`` part, or resolves (through symlinks) to a place
that is not under the workspace; ``write_file`` writes only under ``tools.write_dir`` (null: not at
all). Files are read through a descriptor opened without following a final symlink and checked
with fstat, so a symlink or special file swapped in after the check is still refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import Field

from configs.atomic_files import atomic_write_text
from configs.settings import ToolsConfig, resolve_path
from tools.errors import ToolInputError, ToolUnavailableError
from tools.tool_spec import capabilities

# Keeps a listing of a crowded folder small enough for the model's context.
MAX_LIST_ENTRIES = 500

RelativePath = Annotated[str, Field(description="Path relative to the workspace, e.g. notes/a.txt")]


def list_files(
    path: Annotated[
        str, Field(description="Folder relative to the workspace; '.' is the workspace itself")
    ] = ".",
    *,
    config: ToolsConfig,
) -> dict[str, Any]:
    """List the files and folders in a workspace folder, with the size of each file."""
    real = _resolve(path, config)
    if not real.is_dir():
        what = "is not a folder" if real.exists() else "does not exist"
        raise ToolInputError(f"{path!r} {what} in the workspace")
    with os.scandir(real) as found:
        entries = sorted((_describe(entry) for entry in found), key=lambda item: item["name"])
    return {
        "path": path,
        "entries": entries[:MAX_LIST_ENTRIES],
        "truncated": len(entries) > MAX_LIST_ENTRIES,
    }


def read_file(path: RelativePath, *, config: ToolsConfig) -> dict[str, Any]:
    """Read a UTF-8 text file from the workspace."""
    real = _resolve(path, config)
    limit = config.max_file_bytes
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError as error:
        raise ToolInputError(f"{path!r} does not exist in the workspace") from error
    except OSError as error:
        raise ToolInputError(f"cannot open {path!r}: {error.strerror}") from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ToolInputError(f"{path!r} is not a regular file")
        if info.st_size > limit:
            raise ToolInputError(f"{path!r} has {info.st_size} bytes; the limit is {limit}")
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ToolInputError(f"{path!r} has more than {limit} bytes; the limit is {limit}")
    try:
        return {"path": path, "content": data.decode("utf-8")}
    except UnicodeDecodeError as error:
        raise ToolInputError(f"{path!r} is not UTF-8 text") from error


@capabilities("write")
def write_file(
    path: RelativePath,
    content: Annotated[str, Field(description="The whole new text of the file")],
    *,
    config: ToolsConfig,
) -> dict[str, Any]:
    """Write text to a workspace file, replacing it whole; missing folders are created."""
    if config.write_dir is None:
        raise ToolUnavailableError("write_file is disabled (tools.write_dir is null)")
    size = len(content.encode("utf-8"))
    if size > config.max_file_bytes:
        raise ToolInputError(f"content has {size} bytes; the limit is {config.max_file_bytes}")
    real = _resolve(path, config)
    if real == _workspace(config):
        raise ToolInputError("give a file name, not the workspace folder itself")
    writable = _resolve(config.write_dir, config)
    if real == writable or writable not in real.parents:
        raise ToolInputError(
            f"{path!r} is outside {config.write_dir!r}, the only workspace folder write_file "
            "may write to (tools.write_dir)"
        )
    if real.exists() and not stat.S_ISREG(real.lstat().st_mode):
        raise ToolInputError(f"{path!r} exists and is not a regular file")
    try:
        atomic_write_text(real, content)
    except (FileExistsError, NotADirectoryError) as error:
        raise ToolInputError(f"cannot write {path!r}: a folder on its way is a file") from error
    except OSError as error:
        raise ToolInputError(f"cannot write {path!r}: {error.strerror}") from error
    return {"path": path, "bytes_written": size}


def _workspace(config: ToolsConfig) -> Path:
    root = resolve_path(config.workspace_dir)
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def _resolve(path: str, config: ToolsConfig) -> Path:
    """The real path ``path`` names in the workspace; ToolInputError if it could lead elsewhere."""
    if "\x00" in path:
        raise ToolInputError("path contains a NUL character")
    relative = PurePosixPath(path)
    if relative.is_absolute():
        raise ToolInputError(f"{path!r} is absolute; give a path relative to the workspace")
    if ".." in relative.parts:
        raise ToolInputError(f"{path!r} contains '..'; paths must stay in the workspace")
    root = _workspace(config)
    try:
        real = (root / relative).resolve()
    except (OSError, RuntimeError) as error:
        raise ToolInputError(f"{path!r} cannot be resolved (symlink loop?)") from error
    if real != root and root not in real.parents:
        raise ToolInputError(f"{path!r} is a symlink that leads out of the workspace")
    return real


def _describe(entry: os.DirEntry[str]) -> dict[str, Any]:
    if entry.is_symlink():
        return {"name": entry.name, "type": "symlink"}
    if entry.is_dir(follow_symlinks=False):
        return {"name": entry.name, "type": "folder"}
    if entry.is_file(follow_symlinks=False):
        size = entry.stat(follow_symlinks=False).st_size
        return {"name": entry.name, "type": "file", "size": size}
    return {"name": entry.name, "type": "other"}
