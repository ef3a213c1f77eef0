"""MkDocs hook: no link leaves the repository except to the pinned upstream source.

``mkdocs build --strict`` already fails on a broken link between pages or to a missing anchor.
This hook adds the outward rule: a link with a scheme must point at the Kubernetes source at
the pinned tag (or the KEP), and such a source link must name a file, and lines, that exist in
that release. The release is read from the Go module cache that ``make kube`` fills; without
it only the form of the link is checked. A warning fails a strict build.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.cimp_links")

KUBE_TAG = "v1.37.2"
STAGING_VERSION = "v0.37.2"
UPSTREAM = f"https://github.com/kubernetes/kubernetes/blob/{KUBE_TAG}/"
KEP = "https://github.com/kubernetes/enhancements/"
ALLOWED = (UPSTREAM, KEP)

_HREF = re.compile(r"""\b(?:href|src)=["']([^"']+)["']""")
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")
_LINES = re.compile(r"^L(\d+)(?:-L(\d+))?$")
_STAGING = re.compile(r"^staging/src/k8s\.io/([^/]+)/(.+)$")

_checked: dict[str, str | None] = {}


def _module_cache() -> Path:
    return Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod")


def _local_copy(path: str) -> Path:
    """Where the module cache holds ``path`` of kubernetes/kubernetes at the pinned tag."""
    staging = _STAGING.match(path)
    if staging:
        module, rest = staging.groups()
        return _module_cache() / f"k8s.io/{module}@{STAGING_VERSION}" / rest
    return _module_cache() / f"k8s.io/kubernetes@{KUBE_TAG}" / path


def _module_root(copy: Path) -> Path:
    for parent in copy.parents:
        if "@" in parent.name:
            return parent
    return copy


def problem(url: str) -> str | None:
    """Why ``url`` may not appear in the docs, or None."""
    if url in _checked:
        return _checked[url]
    found: str | None = None
    if not url.startswith(ALLOWED):
        found = "leaves the repository (only upstream source links are allowed)"
    elif url.startswith(UPSTREAM):
        path, _, anchor = url[len(UPSTREAM) :].partition("#")
        copy = _local_copy(path)
        if not _module_root(copy).is_dir():
            log.debug("no local copy of %s to check %s against", _module_root(copy), url)
        elif not copy.is_file():
            found = f"names no file of kubernetes {KUBE_TAG}"
        elif anchor:
            lines = _LINES.match(anchor)
            count = len(copy.read_bytes().splitlines())
            if lines is None:
                found = f"anchor {anchor!r} is not a line range"
            elif int(lines.group(2) or lines.group(1)) > count:
                found = f"lines past the end of the file ({count} lines)"
            elif int(lines.group(1)) > int(lines.group(2) or lines.group(1)):
                found = "line range ends before it starts"
    _checked[url] = found
    return found


# Docstrings speak reStructuredText roles (:class:`Scope`); Markdown leaves the role in front
# of the code span. Keep the code span, drop the role and the "~." shortening marks.
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data|obj):<code>~?\.?")


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    return _ROLE.sub("<code>", html)


def on_post_build(config: Any) -> None:
    """Every page as written, theme included: pages, the 404 page, the API reference."""
    site = Path(config["site_dir"])
    for page in sorted(site.rglob("*.html")):
        for url in sorted(set(_HREF.findall(page.read_text(encoding="utf-8")))):
            if _EXTERNAL.match(url) and not url.startswith("mailto:"):
                why = problem(url)
                if why:
                    log.warning("%s: link %s %s", page.relative_to(site), url, why)
