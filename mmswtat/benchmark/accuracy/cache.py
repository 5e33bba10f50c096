"""Build-once artefacts keyed by their settings.

``<root>/<kind>-<hash>/`` holds ``settings.json`` (the full settings it was
built from) and a ``DONE`` marker. A directory whose ``settings.json`` does
not match the requested settings exactly (or that lacks ``DONE``, i.e. an
interrupted build) is deleted and rebuilt: a stale teacher is never reused.
Processes side by side share a cache: an artefact is checked and built under
an exclusive lock (``.locks/<kind>-<hash>.lock``), so the second process
waits for the first one's build and reuses it instead of deleting it as
incomplete.
"""
import fcntl
import hashlib
import json
import os
import os.path as osp
import shutil
from typing import Callable


def settings_hash(settings: dict) -> str:
    """A short stable hash of a JSON-able settings dict."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def cached(root: str,
           kind: str,
           settings: dict,
           build: Callable[[str], None],
           log=print) -> str:
    """Return the directory of ``kind`` built from ``settings``.

    Args:
        root: Cache root.
        kind: Artefact name, e.g. ``'teacher'``.
        settings: JSON-able dict; the key, stored as ``settings.json``.
        build: ``build(directory)`` writes the artefact into ``directory``.
        log: Progress printer.

    Returns:
        The directory, complete.
    """
    name = f'{kind}-{settings_hash(settings)}'
    path = osp.join(root, name)
    locks = osp.join(root, '.locks')
    os.makedirs(locks, exist_ok=True)
    with open(osp.join(locks, name + '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return _cached(path, kind, settings, build, log)


def _cached(path: str, kind: str, settings: dict,
            build: Callable[[str], None], log) -> str:  # yapf: disable
    """:func:`cached` under its lock."""
    meta = osp.join(path, 'settings.json')
    wanted = json.loads(json.dumps(settings, sort_keys=True, default=str))
    if osp.isfile(osp.join(path, 'DONE')) and osp.isfile(meta):
        with open(meta) as f:
            if json.load(f) == wanted:
                log(f'[cache] {kind}: reusing {path}')
                return path
        log(f'[cache] {kind}: {path} was built from other settings; '
            're-building')
    elif osp.isdir(path):
        log(f'[cache] {kind}: {path} is incomplete; re-building')
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    log(f'[cache] {kind}: building {path}')
    build(path)
    with open(meta, 'w') as f:
        json.dump(wanted, f, indent=1, sort_keys=True)
    open(osp.join(path, 'DONE'), 'w').close()
    return path
