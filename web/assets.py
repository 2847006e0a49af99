"""The page's static files, read and gzipped once at start-up and served from memory.

Our JS modules import each other with `?v=<version>` added, so every module (not only the
ones the page names) is cached forever and still changes URL when any of them changes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

# Static files the page may load; anything else under static/ (e.g. the icon script) is not served.
STATIC_SUFFIXES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".webmanifest": "application/manifest+json",
}
INCOMPRESSIBLE = (".png", ".woff2", ".woff")
IMMUTABLE = "public, max-age=31536000, immutable"
# Relative module specifiers in our own JS ('./api.js', '../vendor/uplot/uPlot.esm.js').
_JS_IMPORT_RE = re.compile(r"""(["'])(\.\.?/[^"'?#\s]+\.(?:js|css))\1""")


@dataclass(frozen=True)
class StaticAsset:
    """One static file, read and gzipped once at start-up."""

    body: bytes
    gzipped: bytes | None
    etag: str
    version: str
    mimetype: str


Assets = dict[str, StaticAsset]


def _read(static_dir: Path) -> dict[str, bytes]:
    """Every servable file by its path under static/."""
    return {
        path.relative_to(static_dir).as_posix(): path.read_bytes()
        for path in sorted(static_dir.rglob("*"))
        if path.is_file() and path.suffix in STATIC_SUFFIXES
    }


def _versions(raw: dict[str, bytes]) -> dict[str, str]:
    """A content hash per file; all of js/ shares one, since a module's bytes name its imports."""
    versions = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in raw.items()}
    modules = hashlib.sha256()
    for name in sorted(raw):
        if name.startswith("js/"):
            modules.update(name.encode() + b"\0" + raw[name])
    module_version = modules.hexdigest()[:12]
    for name in raw:
        if name.startswith("js/"):
            versions[name] = module_version
    return versions


def _versioned_imports(name: str, source: str, versions: dict[str, str]) -> str:
    """The module `name` with `?v=` on each relative import of a file we serve."""

    def add_version(match: re.Match[str]) -> str:
        target = os.path.normpath(os.path.join(os.path.dirname(name), match.group(2)))
        version = versions.get(Path(target).as_posix())
        if version is None:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}?v={version}{match.group(1)}"

    return _JS_IMPORT_RE.sub(add_version, source)


def _gzipped(suffix: str, body: bytes) -> bytes | None:
    """The gzip twin, when the type compresses and gzip actually makes it smaller."""
    if suffix in INCOMPRESSIBLE:
        return None
    compressed = gzip.compress(body, compresslevel=9, mtime=0)
    return compressed if len(compressed) < len(body) else None


def build_assets(static_dir: Path) -> Assets:
    """Read every servable file once; our JS imports get ?v= so modules cache forever too."""
    raw = _read(static_dir)
    versions = _versions(raw)
    assets: Assets = {}
    for name, body in raw.items():
        if name.startswith("js/"):
            body = _versioned_imports(name, body.decode("utf-8"), versions).encode("utf-8")
        suffix = Path(name).suffix
        assets[name] = StaticAsset(
            body=body,
            gzipped=_gzipped(suffix, body),
            etag=hashlib.sha256(body).hexdigest()[:16],
            version=versions[name],
            mimetype=STATIC_SUFFIXES[suffix],
        )
    return assets
