"""Output paths checked before any work starts (a run never fails at its last step)."""

from __future__ import annotations

from pathlib import Path

from lmrec.cli._console import fail


def check_output(path: Path | None, folder: bool = False) -> None:
    """Refuse an output path that cannot be written, before any work starts."""
    import os

    if path is None:
        return
    if folder and path.exists() and not path.is_dir():
        raise fail(f"{path} is a file; this option takes a folder")
    if not folder and path.is_dir():
        raise fail(f"{path} is a folder; this option takes a file name (e.g. {path}/out.json)")
    existing = path if folder and path.exists() else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise fail(f"cannot write {path}: {existing} is not a writable folder")
    import tempfile

    try:  # access() says yes to root everywhere (/proc too): try a file there
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise fail(
            f"cannot write {path}: {existing} does not take files ({exc.strerror})"
        ) from None
