"""The front door: ``callingbox.__all__`` matches what is exported, and importing stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import callingbox
import callingbox._exceptions


def test_all_is_exactly_what_the_package_exports() -> None:
    # GIVEN the curated list WHEN every name is resolved THEN each exists and none is listed twice
    assert len(callingbox.__all__) == len(set(callingbox.__all__))
    for name in callingbox.__all__:
        assert getattr(callingbox, name) is not None, name
    # and the lazy table holds nothing the list does not
    assert set(callingbox._LOCATION) == set(callingbox.__all__)
    # besides submodules, only the module's own import helpers are public-looking names
    public = {
        name for name in dir(callingbox)
        if not name.startswith("_") and not isinstance(getattr(callingbox, name), types.ModuleType)
    }
    assert public - set(callingbox.__all__) <= {"annotations", "import_module", "Any", "TYPE_CHECKING"}


def test_every_error_class_is_exported() -> None:
    errors = set(callingbox._exceptions.__all__) - {"make_status_error"}
    assert errors <= set(callingbox.__all__)


def test_star_import() -> None:
    namespace: dict[str, object] = {}
    exec("from callingbox import *", namespace)
    assert set(callingbox.__all__) <= set(namespace)


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        callingbox.DoesNotExist  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "DoesNotExist" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_public_names_have_docstrings() -> None:
    for name in callingbox.__all__:
        value = getattr(callingbox, name)
        if isinstance(value, type):
            assert value.__doc__, name
            for attr, member in vars(value).items():
                if not attr.startswith("_") and callable(member):
                    assert member.__doc__, f"{name}.{attr}"


def _imported_after(code: str) -> list[str]:
    script = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_import_callingbox_imports_almost_nothing() -> None:
    modules = _imported_after("import callingbox")
    assert not [m for m in modules if m.startswith(("httpx", "pydantic", "callingbox."))]


def test_importing_the_client_loads_no_models_and_no_server_code() -> None:
    modules = _imported_after("from callingbox import Callingbox\nclient = Callingbox(api_key='sk')")
    assert "httpx" in modules
    assert not [m for m in modules if m.startswith(("pydantic", "callingbox.types", "callingbox.resources"))]


def test_using_resources_never_loads_server_code() -> None:
    code = (
        "from callingbox import AsyncCallingbox, Callingbox\n"
        "c = Callingbox(api_key='sk'); c.agents; c.numbers.rules; c.calls\n"
        "a = AsyncCallingbox(api_key='sk'); a.agents; a.numbers.rules; a.calls\n"
        "import callingbox.cli.main"
    )
    modules = _imported_after(code)
    assert "callingbox.resources.agents" in modules
    server_side = ("boto3", "botocore", "chalice", "pynamodb", "aws_lambda_powertools", "callingbox.core",
                   "callingbox.local")
    assert not [m for m in modules if m.startswith(server_side)]
