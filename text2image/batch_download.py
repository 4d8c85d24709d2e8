"""Saving a batch's images (``text2image batch --out DIR``) as ``DIR/<line>/<index>.jpeg``, the
images of each line once it has ended.

An image already there is kept, not fetched again: the same command run again (the same file is the
same batch) fetches only what is missing. Each image is written under a temporary name and renamed,
so a download cut short (Ctrl-C, a lost connection) never passes for a saved image.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from text2image.client import download

# Images fetched at once: a 10,000-line batch has tens of thousands, each a short round trip.
DOWNLOADERS = 8
# An image's URL ends in its index: images/<request_id>/<index>.jpeg.
_INDEX = re.compile(r"/([0-9]+)\.jpeg$")


def image_path(out: Path, line: int, url: str, position: int) -> Path:
    """Where one image of a line goes: named by its index in the run (from its URL), else by its
    position among the line's images."""
    found = _INDEX.search(urllib.parse.urlsplit(url).path)
    return out / str(line) / f"{found.group(1) if found else position}.jpeg"


class ImageSaver:
    """Saves the images of ended lines under ``out``; ``saved`` and ``kept`` count the images
    written and those found there already."""

    def __init__(self, out: Path, fetch: Callable[[str], bytes] = download) -> None:
        self.out, self.fetch = out, fetch
        self.handled: set[str] = set()  # the URLs saved or found, so a new version of status.json costs no second look
        self.saved = self.kept = 0

    def save(self, document: dict[str, Any]) -> None:
        """The images of every line of ``document`` that has ended, not saved before."""
        wanted = [
            (url, image_path(self.out, entry["line"], url, position))
            for entry in document["lines"]
            if entry["status"] != "pending"
            for position, url in enumerate(entry["images"])
            if url not in self.handled
        ]
        pool = ThreadPoolExecutor(DOWNLOADERS)
        try:
            for url, written in zip(wanted, pool.map(self._save_one, wanted), strict=True):
                self.handled.add(url[0])
                self.saved += written
                self.kept += not written
        finally:
            # On Ctrl-C or a failed download, what is queued is dropped; what is in flight ends.
            pool.shutdown(wait=True, cancel_futures=True)

    def _save_one(self, item: tuple[str, Path]) -> bool:
        url, path = item
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(self.fetch(url))
        os.replace(partial, path)
        return True
