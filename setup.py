"""Install mmswtat. Pins live in requirements/*.txt (read here and by the
Makefile)."""
import os.path as osp
import re
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
# Installed at the site-packages root: registers the `mmswtat::` config scope
# at interpreter start (lazily, stdlib only; see _mmswtat_scope.py), so that
# configs with `mmswtat::` bases parse in any runner, e.g. mmseg's own
# tools/train.py, which reads the config before its custom_imports.
PTH = 'mmswtat-config-scope.pth'
PTH_LINE = ("import importlib.util as u; u.find_spec('_mmswtat_scope') and "
            "__import__('_mmswtat_scope').install()\n")


class build_py_with_pth(build_py):
    """build_py that also puts the .pth into the wheel's root."""

    def run(self):
        super().run()
        with open(osp.join(self.build_lib, PTH), 'w') as f:
            f.write(PTH_LINE)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [
            osp.join(self.build_lib, PTH)
        ]


class _StrategyWithPth:
    """An editable-install strategy that also writes the .pth."""

    def __init__(self, strategy):
        self.strategy = strategy

    def __call__(self, wheel, files, mapping):
        self.strategy(wheel, files, mapping)
        wheel.writestr(PTH, PTH_LINE)

    def __enter__(self):
        self.strategy.__enter__()
        return self

    def __exit__(self, *exc):
        return self.strategy.__exit__(*exc)


CMDCLASS = {'build_py': build_py_with_pth}
try:  # setuptools >= 64: PEP 660 editable installs (`pip install -e .`)
    from setuptools.command.editable_wheel import editable_wheel

    class editable_wheel_with_pth(editable_wheel):

        def _select_strategy(self, *args, **kwargs):
            return _StrategyWithPth(super()._select_strategy(*args, **kwargs))

    if hasattr(editable_wheel, '_select_strategy'):
        CMDCLASS['editable_wheel'] = editable_wheel_with_pth
except ImportError:
    pass


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
    py_modules=['_mmswtat_scope'],
    cmdclass=CMDCLASS,
    # Configs and tools ship mim-style under mmswtat/.mim (symlinks in the
    # source tree, copied into wheels), so `_base_ = 'mmswtat::...'` resolves.
    package_data={
        'mmswtat': [
            '.mim/model-index.yml', '.mim/configs/*.py', '.mim/configs/*/*.py',
            '.mim/configs/*/*/*.py', '.mim/tools/*.py', '.mim/tools/*.sh',
            '.mim/tools/*/*.py'
        ]
    },
    include_package_data=False,
    install_requires=read_requirements('mminstall', 'runtime'),
    extras_require={'tests': read_requirements('tests')},
    zip_safe=False,
)
