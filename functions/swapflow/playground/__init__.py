"""The playground page (`GET /`, `/playground`) and Swagger UI (`GET /v1/docs`): static files in this folder.

Plain HTML, CSS and JS with no build step and no CDN (Swagger UI is vendored under vendor/), read once
per execution environment. Pages get a `<base href>` of the API's root (with its stage prefix), so
their relative links and API calls work at `https://.../prod/` as well as on the local stack.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# name in the URL -> file here; nothing else is ever read
PLAYGROUND_ASSETS = {"app.js": "app.js", "app.css": "app.css"}
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "vendor/swagger-ui/swagger-ui-bundle.js",
    "swagger-ui.css": "vendor/swagger-ui/swagger-ui.css",
}
BASE_MARK = "<!--BASE-->"


@cache
def _read(relative: str) -> str:
    return (HERE / relative).read_text(encoding="utf-8")


def page(name: str, root: str) -> tuple[str, str]:
    """(`index.html` or `docs.html` with `<base href="{root}/">`, its content type); root is the stage prefix."""
    return _read(name).replace(BASE_MARK, f'<base href="{html.escape(root, quote=True)}/">', 1), CONTENT_TYPES[".html"]


def asset(table: dict[str, str], name: str) -> tuple[str, str] | None:
    """(text, content type) of a served file, or None for any name not in `table`."""
    relative = table.get(name)
    if relative is None:
        return None
    return _read(relative), CONTENT_TYPES[Path(relative).suffix]
