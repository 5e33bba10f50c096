"""The documentation stays true: every relative link of README.md and
docs/*.md points to an existing file (and heading), and the README's
headline accuracy figures equal the committed JSON report they quote."""
import glob
import json
import os.path as osp
import re

import pytest
from cli_helpers import ROOT

DOCS = [osp.join(ROOT, 'README.md')] + sorted(
    glob.glob(osp.join(ROOT, 'docs', '*.md')))
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')


def anchors(path):
    """GitHub's heading anchors of a Markdown file."""
    out = set()
    in_code = False
    for line in open(path, encoding='utf-8'):
        if line.startswith('```'):
            in_code = not in_code
        m = re.match(r'(#+)\s+(.*)', line)
        if m and not in_code:
            text = re.sub(r'[^\w\- ]', '', m.group(2).strip().lower())
            out.add(text.replace(' ', '-'))
    return out


def links(path):
    text = open(path, encoding='utf-8').read()
    text = re.sub(r'```.*?```', '', text, flags=re.S)  # no code blocks
    return [
        m for m in LINK.findall(text) if not re.match(r'[a-z]+://|mailto:', m)
    ]


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: osp.relpath(p, ROOT))
def test_relative_links_resolve(doc):
    bad = []
    for link in links(doc):
        target, _, anchor = link.partition('#')
        path = osp.normpath(osp.join(osp.dirname(doc), target)) \
            if target else doc
        if not osp.exists(path):
            bad.append(f'{link}: no file {osp.relpath(path, ROOT)}')
        elif anchor and path.endswith('.md') and anchor not in anchors(path):
            bad.append(f'{link}: no heading #{anchor}')
    assert not bad, f'{osp.relpath(doc, ROOT)}: ' + '; '.join(bad)


def test_the_link_check_finds_a_broken_link(tmp_path):
    doc = tmp_path / 'a.md'
    doc.write_text('# Top\n[x](b.md) [y](#top) [z](#nope) [w](http://x)\n')
    assert links(str(doc)) == ['b.md', '#top', '#nope']
    assert anchors(str(doc)) == {'top'}


# ---------------------------------------------------- headline figures
#: The README's headline table: a comment names the report, each row the
#: method and knobs of a summary row.
FIGURES = re.compile(r'<!-- figures: (\S+) -->\n(.*?)\n\n', re.S)


def headline_tables():
    text = open(osp.join(ROOT, 'README.md'), encoding='utf-8').read()
    return FIGURES.findall(text)


def test_readme_has_a_checked_headline_table():
    assert headline_tables(), 'README.md lost its <!-- figures: ... --> table'


def _row_key(row):
    return f'{row["method"]} {json.dumps(row["knobs"], sort_keys=True)}'


@pytest.mark.parametrize('report, table', headline_tables())
def test_readme_headline_figures_equal_the_report(report, table):
    """Each row: ``| label | weight | mean ± std | paired gain ± std |
    ... | <!-- method {knobs} -->``; mean, std and the paired gain are
    the report's summary row, to two decimals."""
    from mmswtat.benchmark.accuracy.report import paired_gain
    data = json.load(open(osp.join(ROOT, report)))
    rows = {}
    for r in data['summary']:
        rows.setdefault(_row_key(r), []).append(r)
    base = rows['none {}'][0]
    checked = 0
    for line in table.splitlines():
        # <!-- method {knobs} --> or, where a method ran at several
        # weights, <!-- method {knobs} w=WEIGHT -->
        m = re.search(r'<!-- (\S+) (\{.*\})(?: w=(\S+))? -->', line)
        if not m:
            continue
        knobs = json.dumps(json.loads(m.group(2)), sort_keys=True)
        found = rows[f'{m.group(1)} {knobs}']
        if m.group(3) is not None:
            found = [r for r in found if r['weight'] == float(m.group(3))]
        (row, ) = found
        figures = re.findall(r'[+-]?\d+\.\d\d ± \d+\.\d\d', line)
        assert figures[0] == f'{row["mean"]:.2f} ± {row["std"]:.2f}', line
        if row is not base:
            assert figures[1] == paired_gain(row, base), line
        checked += 1
    assert checked >= 3
