import shieldwall.core as core
from shieldwall.core import errors


def test_all_names_exist_and_are_sorted_uniquely() -> None:
    for name in core.__all__:
        assert hasattr(core, name), name
    assert len(set(core.__all__)) == len(core.__all__)


def test_core_imports_no_outer_layer() -> None:
    import subprocess
    import sys

    code = (
        "import sys, shieldwall.core; "
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy','fastapi','typer','jinja2','starlette')]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_error_tree_statuses() -> None:
    assert issubclass(errors.AccountLocked, errors.AuthenticationRequired)
    assert issubclass(errors.DatabaseNotMigrated, errors.ServiceUnavailable)
    slugs = [cls.slug for cls in errors.ALL_ERRORS]
    assert len(slugs) == len(set(slugs))
    err = errors.NotFound("no user with id 3", user_id=3)
    assert err.status == 404
    assert err.context == {"user_id": 3}
    assert str(err) == "no user with id 3"
