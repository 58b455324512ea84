"""Grouper reason codes and their texts (Indonesian, English): the one table of them.

Codes are stable: other services, hospitals and dashboards key on them. Texts take
`str.format` fields named in braces.
"""

from __future__ import annotations

from typing import Final

from shared.events import Reason

REASON_TEXTS: Final[dict[str, tuple[str, str]]] = {
    # identifiers
    "G-SEP-FORMAT": (
        "Nomor SEP '{value}' tidak sesuai format (19 karakter: kode RS 8, bulan-tahun MMYY, 'V', 6 digit)",
        "SEP number '{value}' is malformed (19 chars: 8-char hospital code, MMYY, 'V', 6 digits)",
    ),
    "G-SEP-HOSPITAL": (
        "Nomor SEP diterbitkan untuk RS '{value}', bukan RS pengaju '{kode_rs}'",
        "SEP number was issued for hospital '{value}', not the submitting hospital '{kode_rs}'",
    ),
    "G-CARD-FORMAT": (
        "Nomor kartu JKN '{value}' harus 13 digit",
        "JKN card number '{value}' must be 13 digits",
    ),
    "G-HOSPITAL-FORMAT": (
        "Kode RS '{value}' tidak sesuai format (8 karakter, contoh 0301R001)",
        "Hospital code '{value}' is malformed (8 characters, e.g. 0301R001)",
    ),
    "G-HOSPITAL-CLASS": (
        "Kelas RS '{value}' tidak dikenal",
        "Hospital class '{value}' is not a known class",
    ),
    "G-TARIFF-REGION": (
        "Regional tarif {value} di luar rentang 1-5",
        "Tariff region {value} is outside 1-5",
    ),
    # episode
    "G-CARE-TYPE": (
        "Jenis rawat {value} tidak dikenal (1 rawat inap, 2 rawat jalan)",
        "Care type {value} is unknown (1 inpatient, 2 outpatient)",
    ),
    "G-CARE-CLASS": (
        "Kelas rawat {value} di luar rentang 1-3",
        "Care class {value} is outside 1-3",
    ),
    "G-DATES-ORDER": (
        "Tanggal pulang {value} sebelum tanggal masuk {tgl_masuk}",
        "Discharge date {value} is before admission date {tgl_masuk}",
    ),
    "G-BIRTH-DATE": (
        "Tanggal lahir {value} setelah tanggal masuk {tgl_masuk}",
        "Birth date {value} is after admission date {tgl_masuk}",
    ),
    "G-OUTPATIENT-LOS": (
        "Rawat jalan tidak boleh lebih dari 1 hari (tercatat {value} hari)",
        "An outpatient visit cannot last more than 1 day ({value} days recorded)",
    ),
    "G-NEONATE-WEIGHT": (
        "Berat lahir wajib diisi untuk neonatus (umur {value} hari saat masuk)",
        "Birth weight is required for a neonate ({value} days old at admission)",
    ),
    "G-BIRTH-WEIGHT-RANGE": (
        "Berat lahir {value} gram di luar rentang wajar {low}-{high} gram",
        "Birth weight {value} g is outside the plausible range {low}-{high} g",
    ),
    "G-ICU-DAYS": (
        "Hari rawat intensif ({value}) melebihi lama rawat ({los} hari)",
        "ICU days ({value}) exceed the length of stay ({los} days)",
    ),
    "G-VENTILATOR-HOURS": (
        "Jam ventilator ({value}) melebihi lama rawat ({los} hari)",
        "Ventilator hours ({value}) exceed the length of stay ({los} days)",
    ),
    # bill
    "G-BILL-EMPTY": (
        "Tarif RS kosong (tidak ada komponen bernilai positif)",
        "The hospital bill is empty (no positive component)",
    ),
    "G-AMOUNT-NEGATIVE": (
        "Komponen tarif RS bernilai negatif ({value})",
        "Hospital bill component is negative ({value})",
    ),
    # codes
    "G-DIAG-EMPTY": (
        "Tidak ada diagnosis; diagnosis utama wajib diisi",
        "No diagnosis; a principal diagnosis is required",
    ),
    "G-ICD10-UNKNOWN": (
        "Kode diagnosis '{value}' tidak ada dalam {edition}",
        "Diagnosis code '{value}' is not in {edition}",
    ),
    "G-ICD10-EDITION": (
        "Kode diagnosis '{value}' tidak ada dalam {edition}, edisi yang berlaku (kode {other}){use_id}",
        "Diagnosis code '{value}' is not in {edition}, the edition in force (a {other} code){use_en}",
    ),
    "G-ICD10-CATEGORY": (
        "Kode diagnosis '{value}' adalah kategori; gunakan subkategori ({children})",
        "Diagnosis code '{value}' is a category; use a subcategory ({children})",
    ),
    "G-ICD10-NOT-PRINCIPAL": (
        "Kode '{value}' tidak boleh menjadi diagnosis utama ({kind_id})",
        "Code '{value}' cannot be the principal diagnosis ({kind_en})",
    ),
    "G-PROC-AS-DIAG": (
        "Kode '{value}' adalah kode tindakan ICD-9-CM, bukan diagnosis",
        "Code '{value}' is an ICD-9-CM procedure code, not a diagnosis",
    ),
    "G-ICD9-UNKNOWN": (
        "Kode tindakan '{value}' tidak ada dalam {edition}",
        "Procedure code '{value}' is not in {edition}",
    ),
    "G-ICD9-CATEGORY": (
        "Kode tindakan '{value}' adalah kategori; gunakan kode lengkap",
        "Procedure code '{value}' is a category; use a complete code",
    ),
    "G-DIAG-AS-PROC": (
        "Kode '{value}' adalah kode diagnosis ICD-10, bukan tindakan",
        "Code '{value}' is an ICD-10 diagnosis code, not a procedure",
    ),
    "G-DUPLICATE-CODE": (
        "Kode '{value}' tercatat lebih dari sekali (pertama di {first})",
        "Code '{value}' is listed more than once (first at {first})",
    ),
    # class upgrade
    "G-UPGRADE-TARGET": (
        "Naik kelas diminta tanpa kelas tujuan",
        "A class upgrade is requested without a target class",
    ),
    "G-UPGRADE-NOT-HIGHER": (
        "Kelas tujuan '{value}' tidak lebih tinggi dari kelas rawat {kelas_rawat}",
        "Target class '{value}' is not above care class {kelas_rawat}",
    ),
    "G-UPGRADE-OUTPATIENT": (
        "Naik kelas hanya berlaku untuk rawat inap",
        "A class upgrade applies to inpatient care only",
    ),
    "G-UPGRADE-PCT": (
        "add_payment_pct {value} melebihi batas {cap}% dari tarif kelas 1 (PMK 3/2023 Pasal 48)",
        "add_payment_pct {value} exceeds the cap of {cap}% of the class-1 tariff (PMK 3/2023 Art. 48)",
    ),
    "G-UPGRADE-LOS": (
        "Lama naik kelas {value} hari melebihi lama rawat {los} hari",
        "Upgrade length {value} days exceeds the length of stay {los} days",
    ),
    # special CMG
    "G-SPECIAL-CMG-UNKNOWN": (
        "Kode special CMG '{value}' tidak dikenal",
        "Special CMG code '{value}' is unknown",
    ),
    "G-SPECIAL-CMG-NOT-APPLICABLE": (
        "Special CMG '{value}' tidak berlaku untuk {cbg}{why_id}",
        "Special CMG '{value}' does not apply to {cbg}{why_en}",
    ),
    "G-SPECIAL-CMG-LOS": (
        "Special CMG '{value}' memerlukan lama rawat minimal {day} hari (tercatat {los} hari)",
        "Special CMG '{value}' needs a length of stay of at least {day} days ({los} recorded)",
    ),
    "G-SPECIAL-CMG-ADL": (
        "Special CMG '{value}' memerlukan skor ADL",
        "Special CMG '{value}' needs an ADL score",
    ),
    "G-SPECIAL-CMG-KIND-TWICE": (
        "Lebih dari satu special CMG jenis '{kind}' ('{value}')",
        "More than one special CMG of kind '{kind}' ('{value}')",
    ),
    # grouping
    "G-UNGROUPABLE-NO-CMG": (
        "Diagnosis utama '{value}' tidak dapat dikelompokkan (grup error {error_group})",
        "Principal diagnosis '{value}' cannot be grouped (error group {error_group})",
    ),
    "G-UNGROUPABLE-SEX": (
        "Diagnosis utama '{value}' tidak sesuai jenis kelamin pasien (grup error {error_group})",
        "Principal diagnosis '{value}' conflicts with the patient's sex (error group {error_group})",
    ),
    "G-UNGROUPABLE-AGE": (
        "Diagnosis utama '{value}' tidak sesuai umur pasien {age} tahun (grup error {error_group})",
        "Principal diagnosis '{value}' conflicts with the patient's age {age} (error group {error_group})",
    ),
    # tariff
    "G-TARIFF-NONE-EFFECTIVE": (
        "Tidak ada tabel tarif yang berlaku pada tanggal pulang {value}",
        "No tariff table is effective on discharge date {value}",
    ),
    "G-TARIFF-MISSING": (
        "Tabel tarif {version} tidak memuat tarif {value} untuk regional {regional}, kelas RS {kelas_rs}",
        "Tariff table {version} has no tariff for {value}, region {regional}, hospital class {kelas_rs}",
    ),
    # submission
    "G-REVISION-REUSED": (
        "Revisi {value} sudah dikirim dengan isi berbeda; kirim dengan nomor revisi berikutnya",
        "Revision {value} was already submitted with different content; use the next revision",
    ),
}


def reason(code: str, field: str | None, **params: object) -> Reason:
    """A `Reason` with both texts filled in from the table."""
    text_id, text_en = REASON_TEXTS[code]
    return Reason(code=code, field=field, message_id=text_id.format(**params), message_en=text_en.format(**params))
