"""No file is lost: the one check of every tool that writes a user-named file.

Every tool that writes a file (or folder) the user names calls
:func:`check_output_path` before any work, so that an existing file is only
replaced with ``--force``, and a directory given where a file is expected
fails at once instead of after a long run.
"""
import os
import os.path as osp
from typing import Sequence, Union


def _prefix(owner: str) -> str:
    """``'OWNER: '``, or nothing for a tool that prefixes its messages."""
    return f'{owner}: ' if owner else ''


def check_output_path(path: str,
                      force: bool,
                      owner: str,
                      option: str = 'OUT',
                      suffix: Union[None, str, Sequence[str]] = None) -> str:
    """``path`` if a tool may write its output file there.

    Args:
        path: The user-named output file.
        force: The tool's ``--force``: replacing an existing file is fine.
        owner: The tool, e.g. ``'tools/export_student.py'`` (messages;
            ``''`` when the tool prefixes its messages itself).
        option: How the user gave ``path``, e.g. ``'--out'`` (messages).
        suffix: The extension(s) the file must have (e.g. ``'.pkl'`` or
            ``('.pkl', '.pickle')``), if any.

    Returns:
        ``path``.

    Raises:
        IsADirectoryError: ``path`` is an existing directory.
        FileExistsError: ``path`` exists and ``force`` is not set.
        ValueError: ``path`` is empty or does not end with ``suffix``.
        NotADirectoryError: A parent of ``path`` is a file.
    """
    who = _prefix(owner) + option
    if not path:
        raise ValueError(f'{who} is empty; give a file path')
    if osp.isdir(path):
        example = suffix if isinstance(suffix, str) else (suffix or [''])[0]
        raise IsADirectoryError(
            f'{who} {path!r} is an existing directory, not a file; give a '
            f'file path, e.g. {osp.join(path, "out" + example)}')
    suffixes = (suffix, ) if isinstance(suffix, str) else suffix
    if suffixes and not path.endswith(tuple(suffixes)):
        raise ValueError(f'{who} must be a {" or ".join(suffixes)} file, got '
                         f'{path!r}; e.g. {osp.splitext(path)[0]}'
                         f'{suffixes[0]}')
    if osp.lexists(path) and not force:
        raise FileExistsError(
            f'{who} {path!r} already exists; give another path, or --force '
            'to replace it')
    parent = osp.dirname(osp.abspath(path))
    while not osp.exists(parent):
        parent = osp.dirname(parent)
    if not osp.isdir(parent):
        raise NotADirectoryError(
            f'{who} {path!r} cannot be created: {parent!r} is a file, not a '
            'directory; give another path')
    return path


def check_output_dir(path: str,
                     force: bool,
                     owner: str,
                     option: str = '--out') -> str:
    """``path`` if a tool may write its output files into that folder.

    A folder that already holds files is only written into with ``force``
    (its files of the same names would be replaced).

    Raises:
        ValueError: ``path`` is empty.
        NotADirectoryError: ``path`` is an existing file.
        FileExistsError: ``path`` is a non-empty folder and ``force`` is
            not set.
    """
    who = _prefix(owner) + option
    if not path:
        raise ValueError(f'{who} is empty; give a folder path')
    if osp.lexists(path) and not osp.isdir(path):
        raise NotADirectoryError(
            f'{who} {path!r} is an existing file, not a folder; give a '
            'folder path')
    if osp.isdir(path) and os.listdir(path) and not force:
        raise FileExistsError(
            f'{who} {path!r} already holds files that this run may replace; '
            'give an empty or new folder, or --force to write into it')
    return path
