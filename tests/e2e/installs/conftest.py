"""The files here share the throw-away installs (:func:`installed_env`):
this folder is one pytest-xdist unit of work (tests/conftest.py:
xdist_group), so each install is made once."""
import pytest


@pytest.fixture(scope='session')
def installed_env(tmp_path_factory):
    """``get(kind)``: mmswtat installed into a throw-away venv ('regular' or
    'editable'), made once per session -> (kind, folder, python)."""
    from install_helpers import make_env
    made = {}

    def get(kind: str):
        if kind not in made:
            where = tmp_path_factory.mktemp(kind)
            made[kind] = (kind, str(where),
                          make_env(str(where), kind == 'editable'))
        return made[kind]

    return get
