"""Install mmswtat. Pins live in requirements/*.txt (read here and by the Makefile)."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(*names):
    """Requirement lines of ``requirements/<name>.txt``, comments dropped."""
    reqs = []
    for name in names:
        with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if line:
                    reqs.append(line)
    return reqs


def read_version():
    with open(osp.join(HERE, 'mmswtat', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


setup(
    name='mmswtat',
    version=read_version(),
    description='Shifted-Window Target-aware Transformer knowledge '
    'distillation for mmsegmentation, mmdetection and mmpretrain',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.8',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    # Configs and tools ship mim-style under mmswtat/.mim (symlinks in the
    # source tree, copied into wheels), so `_base_ = 'mmswtat::...'` resolves.
    package_data={
        'mmswtat': [
            '.mim/model-index.yml', '.mim/configs/*.py', '.mim/configs/*/*.py',
            '.mim/configs/*/*/*.py',
            '.mim/tools/*.py', '.mim/tools/*.sh', '.mim/tools/*/*.py'
        ]
    },
    include_package_data=False,
    install_requires=read_requirements('mminstall', 'runtime'),
    extras_require={'tests': read_requirements('tests')},
    zip_safe=False,
)
