"""One training run per work dir: a lock file names the running one.

Two runs in one work dir write the same timestamped folder (an interleaved
log) and overwrite each other's checkpoints. ``tools/train.py`` holds
:func:`work_dir_lock` while it trains: a second run in the same work dir
stops, naming the first (its process id, host, start time and command). A
lock left by a run that no longer exists (killed with SIGKILL, a crashed
machine) is stale: a run on the same host takes it over, saying so, so that
``--resume`` after a kill just works.
"""
import json
import os
import os.path as osp
import socket
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Optional

LOCK_NAME = '.mmswtat_train.lock'


class WorkDirBusyError(RuntimeError):
    """Another training run holds the work dir."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def _read(path: str) -> Optional[dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _is_main_process() -> bool:
    """Rank 0 (or not launched in several processes) takes the lock."""
    return os.environ.get('RANK', '0') in ('0', '')


@contextmanager
def work_dir_lock(work_dir: str,
                  resume: bool = False,
                  log=print) -> Iterator[Optional[str]]:
    """Hold ``WORK_DIR/.mmswtat_train.lock`` while a run trains.

    Args:
        work_dir: The run's work dir (created if needed).
        resume: The run resumes (only named in the message).
        log: Where the note about a stale lock goes.

    Yields:
        The lock file path (``None`` in processes other than rank 0).

    Raises:
        WorkDirBusyError: A live run (on this host), or a run on another
            host, holds the lock; the message names it and the fix.
    """
    if not _is_main_process():
        yield None
        return
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_NAME)
    me = dict(
        pid=os.getpid(),
        host=socket.gethostname(),
        started=time.strftime('%Y-%m-%d %H:%M:%S'),
        command=' '.join([osp.basename(sys.executable)] + sys.argv))
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            other = _read(path) or {}
            pid, host = other.get('pid'), other.get('host')
            same_host = host == me['host']
            if isinstance(pid, int) and same_host and not _alive(pid):
                log(f'work dir {work_dir!r}: the lock of run {pid} (started '
                    f'{other.get("started")}) is stale, that process no '
                    'longer exists; taking it over')
                os.remove(path)
                continue
            what = (f'process {pid} on {host}, started '
                    f'{other.get("started")}: {other.get("command")}'
                    if other else 'an unreadable lock file')
            raise WorkDirBusyError(
                f'work dir {work_dir!r} is in use by another training run '
                f'({what}); two runs in one work dir overwrite each other\'s '
                f'checkpoints and logs. Give this run another --work-dir' +
                (', or wait for that run to end before --resume'
                 if resume else '') + f'; if that run is gone, delete {path}')
        with os.fdopen(fd, 'w') as f:
            json.dump(me, f)
        break
    try:
        yield path
    finally:
        if (_read(path) or {}).get('pid') == me['pid']:
            os.remove(path)
