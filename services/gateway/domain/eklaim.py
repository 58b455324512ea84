"""E-Klaim's `new_claim` and `set_claim_data` fields, read into a typed draft (no I/O).

Field names, value sets and formats are E-Klaim's (web service manual 5.10.x: "Membuat klaim baru" for
new_claim, "Untuk mengisi/update data klaim" for set_claim_data, "Set Diagnosa/Prosedur INACBG" for the
`#`-lists): numbers may come as strings ("300000"), dates as `yyyy-mm-dd hh:mm:ss`, flags as "1"/"0",
diagnoses as "S73.0#E11.9" and procedures as "81.53#86.28" (a `+N` suffix repeats a procedure N times).

set_claim_data is a partial update, as in E-Klaim: a field left out is unchanged, an empty string is
"no change" too (the manual: an empty `procedure` is not a deletion), and `"#"` clears a list. A draft is a
dict of E-Klaim field names to typed values (dates ISO, lists of codes); `services.gateway.domain.claim`
turns it into the contract's ClaimData. Fields E-Klaim has and the contract does not carry (sistole,
apgar, persalinan, payor_cd ...) are accepted and ignored, and named in the answer, so an existing bridge
sending them keeps working.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final

from services.gateway.domain.errors import EklaimError
from shared.events import ICD9CM_PATTERN, ICD10_PATTERN, TarifRS

Draft = dict[str, Any]

# kode_tarif: the INA-CBG tariff class by hospital class and ownership (manual: "kode_tarif").
KODE_TARIF: Final = ("AP", "AS", "BP", "BS", "CP", "CS", "DP", "DS", "RSCM", "RSJP", "RSD", "RSAB")
CARA_MASUK: Final = ("gp", "hosp-trans", "mp", "outp", "inp", "emd", "born", "nursing", "psych", "rehab", "other")
UPGRADE_CLASSES: Final = ("kelas_1", "kelas_2", "vip", "vvip")
UPGRADE_PAYORS: Final = ("peserta", "pemberi_kerja", "asuransi_tambahan")
TARIF_RS_FIELDS: Final = tuple(TarifRS.model_fields)
CLEAR: Final = "#"
MAX_LIST: Final = 30
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,6})?")
_DATE_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?: ([0-9]{2}):([0-9]{2}):([0-9]{2}))?")
_PROCEDURE = re.compile(r"([^+]+)(?:\+([0-9]{1,2}))?")
_UNCHANGED = object()


def _text(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise EklaimError("E2030", field, "must be a string or a number")
    return str(value).strip()


def integer(value: Any, field: str, *, lo: int = 0, hi: int = 2**31 - 1, error_no: str = "E2030") -> int:
    """A whole number written as a number or a string of digits ("300000")."""
    text = _text(value, field)
    if isinstance(value, float) and not value.is_integer():
        raise EklaimError(error_no, field, f"must be a whole number, not {value}")
    if not isinstance(value, float) and not _INTEGER.fullmatch(text):
        raise EklaimError(error_no, field, f"must be a whole number, not {text[:40]!r}")
    number = int(float(text)) if isinstance(value, float) else int(text)
    if not lo <= number <= hi:
        raise EklaimError(error_no, field, f"must be between {lo} and {hi}, not {number}")
    return number


def decimal(value: Any, field: str, *, lo: float, hi: float) -> float:
    """A number such as add_payment_pct ("35" or "35.5")."""
    text = _text(value, field)
    if not _DECIMAL.fullmatch(text):
        raise EklaimError("E2030", field, f"must be a number, not {text[:40]!r}")
    number = float(text)
    if not lo <= number <= hi:
        raise EklaimError("E2030", field, f"must be between {lo:g} and {hi:g}, not {number:g}")
    return number


def flag(value: Any, field: str) -> bool:
    """E-Klaim's "1" / "0" (numbers and JSON booleans too)."""
    if isinstance(value, bool):
        return value
    text = _text(value, field)
    if text not in ("0", "1"):
        raise EklaimError("E2030", field, f'must be "1" or "0", not {text[:40]!r}')
    return text == "1"


def date_time(value: Any, field: str) -> str:
    """`yyyy-mm-dd hh:mm:ss` (or a bare date), kept as ISO text; a real calendar date is required."""
    text = _text(value, field)
    found = _DATE_TIME.fullmatch(text)
    if found is None:
        raise EklaimError("E2019", field, f"must be yyyy-mm-dd hh:mm:ss, not {text[:40]!r}")
    try:
        day = date.fromisoformat(found.group(1))
        if found.group(2) is not None:
            datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise EklaimError("E2019", field, f"{text!r} is not a date and time that exists") from None
    return text if found.group(2) is not None else f"{day.isoformat()} 00:00:00"


def choice(value: Any, field: str, allowed: tuple[str, ...], error_no: str = "E2030") -> str:
    text = _text(value, field)
    if text not in allowed:
        raise EklaimError(error_no, field, f"must be one of {', '.join(allowed)}, not {text[:40]!r}")
    return text


def code_list(value: Any, field: str, pattern: re.Pattern[str], kind: str) -> list[str] | object:
    """A `#`-list of codes: "S73.0#E11.9"; "#" clears; "" changes nothing."""
    text = _text(value, field)
    if text == "":
        return _UNCHANGED
    if text == CLEAR:
        return []
    codes = [c.strip() for c in text.split(CLEAR)]
    if len(codes) > MAX_LIST:
        raise EklaimError("E2030", field, f"at most {MAX_LIST} codes, not {len(codes)}")
    for i, code in enumerate(codes, 1):
        if not pattern.fullmatch(code):
            raise EklaimError("E2030", field, f"entry {i} {code[:20]!r} is not spelled like an {kind} code")
    return codes


def procedures(value: Any, field: str) -> list[dict[str, Any]] | object:
    """A `#`-list of ICD-9-CM codes, each optionally `+N` (done N times): "81.53#86.28+2"."""
    text = _text(value, field)
    if text == "":
        return _UNCHANGED
    if text == CLEAR:
        return []
    entries = [e.strip() for e in text.split(CLEAR)]
    if len(entries) > MAX_LIST:
        raise EklaimError("E2030", field, f"at most {MAX_LIST} procedures, not {len(entries)}")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(entries, 1):
        found = _PROCEDURE.fullmatch(entry)
        code = found.group(1).strip() if found else entry
        if found is None or not ICD9CM_PATTERN.fullmatch(code):
            raise EklaimError("E2030", field, f"entry {i} {entry[:20]!r} is not an ICD-9-CM code (with +N)")
        qty = int(found.group(2) or 1)
        if not 1 <= qty <= 99:
            raise EklaimError("E2030", field, f"entry {i}: the +N count must be 1-99, not {qty}")
        out.append({"code": code, "qty": qty})
    return out


def tarif_rs(value: Any, field: str, current: Mapping[str, int] | None) -> dict[str, int]:
    """The bill's components as strings of rupiah; components left out keep their value."""
    if not isinstance(value, Mapping):
        raise EklaimError("E2030", field, "must be an object of the 18 bill components")
    unknown = sorted(set(value) - set(TARIF_RS_FIELDS))
    if unknown:
        raise EklaimError("E2030", f"{field}.{unknown[0]}", f"not a bill component ({', '.join(TARIF_RS_FIELDS)})")
    merged = dict(current or {})
    for name, amount in value.items():
        merged[name] = integer(amount, f"{field}.{name}", hi=10**13)
    return merged


def documents(value: Any, field: str) -> list[dict[str, Any]]:
    """The gateway's extension: the supporting documents' references (E-Klaim uploads files instead)."""
    if not isinstance(value, list) or len(value) > 50 or not all(isinstance(d, Mapping) for d in value):
        raise EklaimError("E2030", field, "must be a list of at most 50 {doc_type, ref, supports} objects")
    return [dict(d) for d in value]


def _optional_integer(lo: int, hi: int, zero_is_none: bool = False) -> Callable[[Any, str], Any]:
    def parse(value: Any, field: str) -> Any:
        if _text(value, field) == "":
            return _UNCHANGED
        if _text(value, field) == CLEAR:
            return None
        number = integer(value, field, lo=0 if zero_is_none else lo, hi=hi)
        if zero_is_none and number == 0:
            return None
        if number < lo:
            raise EklaimError("E2030", field, f"must be between {lo} and {hi}, not {number}")
        return number

    return parse


def _text_field(max_length: int) -> Callable[[Any, str], Any]:
    def parse(value: Any, field: str) -> Any:
        text = _text(value, field)
        if text == CLEAR:
            return None
        if len(text) > max_length or not text.isprintable():
            raise EklaimError("E2030", field, f"at most {max_length} printable characters")
        return text

    return parse


# set_claim_data: E-Klaim field -> parser (value, field) -> typed value, `_UNCHANGED` or None (cleared).
SET_CLAIM_DATA: Final[dict[str, Callable[[Any, str], Any]]] = {
    "nomor_kartu": _text_field(40),
    "tgl_masuk": date_time,
    "tgl_pulang": date_time,
    "cara_masuk": lambda v, f: choice(v, f, CARA_MASUK),
    "jenis_rawat": lambda v, f: integer(v, f, lo=1, hi=2, error_no="E2028"),
    "kelas_rawat": lambda v, f: integer(v, f, lo=1, hi=3),
    "adl_sub_acute": _optional_integer(12, 60),
    "adl_chronic": _optional_integer(12, 60),
    "icu_indikator": flag,
    "icu_los": lambda v, f: integer(v, f, hi=3650),
    "ventilator_hour": lambda v, f: integer(v, f, hi=87600),
    "upgrade_class_ind": flag,
    "upgrade_class_class": lambda v, f: choice(v, f, UPGRADE_CLASSES, "E2032"),
    "upgrade_class_los": lambda v, f: integer(v, f, hi=3650),
    "upgrade_class_payor": lambda v, f: choice(v, f, UPGRADE_PAYORS, "E2064"),
    "add_payment_pct": lambda v, f: decimal(v, f, lo=0, hi=100),
    "birth_weight": _optional_integer(1, 10_000, zero_is_none=True),
    "discharge_status": lambda v, f: integer(v, f, lo=1, hi=5),
    "tarif_poli_eks": _optional_integer(1, 10**13, zero_is_none=True),
    "kode_tarif": lambda v, f: choice(v, f, KODE_TARIF, "E2014"),
    "diagnosa": lambda v, f: code_list(v, f, ICD10_PATTERN, "ICD-10"),
    "procedure": procedures,
    "special_cmg": lambda v, f: code_list(v, f, re.compile(r"[A-Za-z0-9-]{2,16}"), "special CMG"),
    "documents": documents,
    "coder_nik": _text_field(40),
    "nama_dokter": _text_field(200),
}


def set_claim_data(draft: Draft, data: Mapping[str, Any]) -> tuple[Draft, list[str]]:
    """The draft after a set_claim_data: (new draft, the fields accepted but not kept)."""
    if not str(data.get("coder_nik", "")).strip():
        raise EklaimError("E2005", "coder_nik", "is mandatory on every set_claim_data")
    return apply(draft, data)


def set_list(draft: Draft, name: str, value: Any) -> Draft:
    """inacbg_diagnosa_set / inacbg_procedure_set: one `#`-list (manual 5.10.x; no coder_nik there)."""
    return apply(draft, {name: value})[0]


def apply(draft: Draft, data: Mapping[str, Any]) -> tuple[Draft, list[str]]:
    """`data` over `draft`: each field parsed, left out or "" unchanged, "#" cleared; then checked together."""
    out = dict(draft)
    ignored: list[str] = []
    for name, value in data.items():
        if name == "tarif_rs":
            out["tarif_rs"] = tarif_rs(value, name, draft.get("tarif_rs"))
            continue
        parse = SET_CLAIM_DATA.get(name)
        if parse is None:
            if name != "nomor_sep":  # names the claim, it is not a change
                ignored.append(name)
            continue
        parsed = parse(value, name)
        if parsed is None:
            out.pop(name, None)
        elif parsed is not _UNCHANGED:
            out[name] = parsed
    if "ventilator" in data and "ventilator_hour" not in data:
        hours = ventilator_hours(data["ventilator"])
        if hours is not None:
            out["ventilator_hour"] = hours
    check_consistent(out)
    return out, sorted(ignored)


def ventilator_hours(value: Any) -> int | None:
    """Hours of ventilation from the `ventilator` element (use_ind, start_dttm, stop_dttm), started hours counted."""
    if not isinstance(value, Mapping):
        raise EklaimError("E2030", "ventilator", "must be an object {use_ind, start_dttm, stop_dttm}")
    if not flag(value.get("use_ind", "0"), "ventilator.use_ind"):
        return 0
    start = datetime.fromisoformat(date_time(value.get("start_dttm", ""), "ventilator.start_dttm").replace(" ", "T"))
    stop = datetime.fromisoformat(date_time(value.get("stop_dttm", ""), "ventilator.stop_dttm").replace(" ", "T"))
    if stop < start:
        raise EklaimError("E2019", "ventilator.stop_dttm", "is before ventilator.start_dttm")
    return -(-int((stop - start).total_seconds()) // 3600)


def new_claim(data: Mapping[str, Any]) -> Draft:
    """The draft a new_claim opens: the patient's card, SEP, birth date and sex (nama_pasien is not kept)."""
    for name in ("nomor_kartu", "nomor_sep", "nomor_rm", "nama_pasien", "tgl_lahir", "gender"):
        if name not in data or _text(data[name], name) == "":
            raise EklaimError("E2030", name, "is mandatory for new_claim")
    return {
        "nomor_kartu": _text_field(40)(data["nomor_kartu"], "nomor_kartu"),
        "tgl_lahir": date_time(data["tgl_lahir"], "tgl_lahir"),
        "gender": integer(data["gender"], "gender", lo=1, hi=2),
    }


def length_of_stay(draft: Mapping[str, Any]) -> int | None:
    """Days between admission and discharge (at least 1), when both are known."""
    if "tgl_masuk" not in draft or "tgl_pulang" not in draft:
        return None
    days = (date.fromisoformat(draft["tgl_pulang"][:10]) - date.fromisoformat(draft["tgl_masuk"][:10])).days
    return max(days, 1)


def check_consistent(draft: Mapping[str, Any]) -> None:
    """E-Klaim's checks across fields, on what the draft holds so far (again at claim_final)."""
    if "tgl_masuk" in draft and "tgl_pulang" in draft and draft["tgl_pulang"] < draft["tgl_masuk"]:
        raise EklaimError("E2012", "tgl_pulang", f"{draft['tgl_pulang']} is before tgl_masuk {draft['tgl_masuk']}")
    los = length_of_stay(draft)
    if los is not None and draft.get("icu_indikator") and draft.get("icu_los", 0) > los:
        raise EklaimError("E2013", "icu_los", f"{draft['icu_los']} days is longer than the stay ({los} days)")
    if not draft.get("upgrade_class_ind"):
        return
    if draft.get("kelas_rawat") == 3:
        raise EklaimError("E2065", "upgrade_class_ind", "a class 3 stay cannot be upgraded")
    if los is not None and draft.get("upgrade_class_los", 0) > los:
        raise EklaimError("E2062", "upgrade_class_los", f"{draft['upgrade_class_los']} days is longer than {los}")
