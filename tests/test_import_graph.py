"""Imports point one way: scripts/check_imports.py finds no forbidden layer edge and no import
cycle in the apps, and (on small made-up trees) finds them when they are there."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_checker():
    spec = importlib.util.spec_from_file_location(
        "check_imports", ROOT / "scripts/check_imports.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


check_imports = _load_checker()


def test_the_apps_have_no_forbidden_layer_import():
    report = check_imports.check()

    assert not report.violations, "\n".join(
        f"{imp.where()} {imp.statement}  [{rule}]" for imp, rule in report.violations
    )


def test_the_apps_have_no_import_cycle():
    report = check_imports.check()

    assert not report.cycles, "\n".join(check_imports.format_cycle(c) for c in report.cycles)


# --- the checker itself, on made-up trees ------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    """tree({"low/a.py": "source", ...}) -> the root of those files (packages get __init__)."""

    def make(files: dict[str, str]) -> Path:
        for name, source in files.items():
            path = tmp_path / name
            for parent in reversed(path.relative_to(tmp_path).parents):
                if parent != Path("."):
                    (tmp_path / parent).mkdir(exist_ok=True)
                    (tmp_path / parent / "__init__.py").touch()
            path.write_text(textwrap.dedent(source))
        return tmp_path

    return make


def run(root, forbidden=None):
    return check_imports.check(
        root, apps=("low", "high"), forbidden=forbidden or {"low": ("high",)}
    )


def test_a_forbidden_edge_is_found_at_module_level_in_functions_and_for_types(tree):
    root = tree(
        {
            "high/models.py": "X = 1\n",
            "low/a.py": "from high.models import X\n",
            "low/b.py": "def f():\n    from high import models\n",
            "low/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import high.models\n",
            "low/d.py": "from . import a\n",
        }
    )

    report = run(root)

    assert sorted(imp.module for imp, _rule in report.violations) == ["low.a", "low.b", "low.c"]
    assert not report.ok


def test_a_cycle_through_from_package_import_module_is_found(tree):
    root = tree(
        {
            "low/a.py": "from low import b\n",
            "low/b.py": "from low.c import thing\n",
            "low/c.py": "import low.a\nthing = 1\n",
        }
    )

    report = run(root)

    assert [[edge.module for edge in cycle] for cycle in report.cycles] == [
        ["low.a", "low.b", "low.c"]
    ]
    assert "low.a -> low.b -> low.c -> low.a" in check_imports.format_cycle(report.cycles[0])


def test_lazy_and_type_checking_imports_make_no_cycle_and_lazy_ones_are_listed(tree):
    root = tree(
        {
            "low/a.py": "from low import b\n",
            "low/b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from low.a import thing\n"
                "def f():\n"
                "    # the SDK is heavy\n"
                "    from low import a\n"
            ),
        }
    )

    report = run(root)

    assert report.cycles == [] and report.ok
    [lazy] = report.lazy_imports
    assert (lazy.module, lazy.target, lazy.function, lazy.comment) == (
        "low.b",
        "low.a",
        "f",
        "the SDK is heavy",
    )


def test_a_package_that_re_exports_its_modules_is_not_a_cycle(tree):
    root = tree(
        {
            "low/services/__init__.py": "from low.services.one import f\nfrom low.services.two import g\n",
            "low/services/one.py": "def f(): ...\n",
            "low/services/two.py": "from low.services.one import f\ndef g(): ...\n",
            "low/tasks.py": "from low import services\n",
        }
    )

    assert run(root).cycles == []


def test_migrations_and_tests_are_not_checked(tree):
    root = tree(
        {
            "high/models.py": "",
            "low/migrations/0001_initial.py": "import high.models\n",
            "low/tests/test_x.py": "import high.models\n",
        }
    )

    report = run(root)

    assert report.ok and "low.migrations.0001_initial" not in report.modules
