"""The web console at ``/ui``: a static page (HTML, vanilla JS, CSS; no build step) that drives
the app through its public REST API only, as any other client does.

The page, scripts and styles load without an API key (the Guard leaves ``/ui`` open): a browser
that opens a URL cannot send an ``Authorization`` header, and these files hold no data. Every
call the page makes to the API sends ``Authorization: Bearer <key>``; when keys are configured the
page asks for one on the first 401 and keeps it in the tab's ``sessionStorage``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

CONSOLE_PATH = "/ui"
STATIC_DIR = Path(__file__).parent / "static"


def is_console_path(path: str) -> bool:
    """``/ui`` and the files below it; not ``/uix``."""
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


def mount_console(api: FastAPI) -> None:
    """Serve the console's files at ``/ui/`` (``/ui`` redirects there; index.html is the page)."""
    api.mount(CONSOLE_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="console")
