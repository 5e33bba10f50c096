"""Write config values as readable Python source (``dict(key=value)``)."""
import textwrap
from typing import Any, List

WIDTH = 79


def _atom(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    raise TypeError(f'cannot write {type(value).__name__} into a config')


def _one_line(value: Any) -> str:
    if isinstance(value, dict):
        return 'dict(' + ', '.join(f'{k}={_one_line(v)}'
                                   for k, v in value.items()) + ')'
    if isinstance(value, (list, tuple)):
        inner = ', '.join(_one_line(v) for v in value)
        if isinstance(value, tuple):
            return f'({inner}{"," if len(value) == 1 else ""})'
        return f'[{inner}]'
    return _atom(value)


def format_value(value: Any, indent: int = 0, prefix: str = '') -> str:
    """``value`` as source; dicts are written ``dict(k=v, ...)``, broken
    over lines (4-space indent) when ``prefix + value`` does not fit in
    ``WIDTH`` columns at ``indent``.

    Args:
        value: Nested dicts (identifier keys), lists, tuples and atoms.
        indent: Column of the line the value starts on.
        prefix: Text before the value on that line (e.g. ``'key='``).
    """
    flat = _one_line(value)
    if indent + len(prefix) + len(flat) + 1 <= WIDTH or not isinstance(
            value, (dict, list, tuple)) or not value:
        return flat
    pad = ' ' * (indent + 4)
    lines: List[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not str(key).isidentifier():
                raise ValueError(f'config key {key!r} is not an identifier')
            lines.append(f'{pad}{key}=' +
                         format_value(item, indent + 4, f'{key}='))
        return 'dict(\n' + ',\n'.join(lines) + ')'
    open_, close = ('(', ')') if isinstance(value, tuple) else ('[', ']')
    for item in value:
        lines.append(pad + format_value(item, indent + 4))
    return open_ + '\n' + ',\n'.join(lines) + close


def comment_block(lines: List[str]) -> str:
    """``# line`` for each line (empty lines become ``#``); long lines are
    wrapped with a hanging indent."""
    out = []
    for line in lines:
        lead = ' ' * (len(line) - len(line.lstrip()))
        out.extend(
            textwrap.wrap(
                line,
                WIDTH - 2,
                initial_indent='# ' + lead,
                subsequent_indent='# ' + lead + '  ',
                break_on_hyphens=False,
                break_long_words=False) or ['#'])
    return '\n'.join(out)
