"""An E-Klaim draft as the contract's ClaimData, and back (no I/O).

What E-Klaim keeps in the hospital's setup rather than on the claim (its tariff region; its kode_tarif
unless the claim names one) comes from the hospital's registration. Mapping, E-Klaim -> contract:

| E-Klaim (manual 5.10.x)                        | ClaimData                                   |
|------------------------------------------------|---------------------------------------------|
| nomor_sep, nomor_kartu, coder_nik              | same                                        |
| tgl_lahir, gender (new_claim)                  | tgl_lahir (date part), gender               |
| tgl_masuk, tgl_pulang `yyyy-mm-dd hh:mm:ss`    | tgl_masuk, tgl_pulang (date part)           |
| kode_tarif (AP, AS ... RSAB), else the hospital's | kelas_rs                                 |
| the hospital's registration                    | kode_rs, regional_tarif                     |
| jenis_rawat, kelas_rawat, discharge_status     | same (numbers)                              |
| cara_masuk = "emd"                             | emergency = true                            |
| icu_indikator = "1" with icu_los               | icu_days (0 without the indicator)          |
| ventilator_hour (or the ventilator element)    | ventilator_hours                            |
| upgrade_class_ind/_class/_los/_payor, add_payment_pct | same                                 |
| birth_weight "0", tarif_poli_eks "0"           | null                                        |
| diagnosa "S73.0#E11.9"                         | diagnosa ["S73.0", "E11.9"]                 |
| procedure "81.53#86.28+2"                      | procedure [{code 81.53, qty 1}, {code 86.28, qty 2}] |
| special_cmg "RR04#YY01" (gateway extension)    | special_cmg                                 |
| tarif_rs {18 components as strings}            | tarif_rs (integers)                         |
| documents [{doc_type, ref, supports}] (extension) | documents                                |
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from pydantic import ValidationError

from services.gateway.domain.eklaim import Draft, check_consistent, length_of_stay
from services.gateway.domain.errors import EklaimError
from services.gateway.domain.monitor import ClaimView
from services.gateway.domain.principal import Caller
from shared.events import ClaimData

REQUIRED: Final = ("nomor_kartu", "tgl_lahir", "gender", "tgl_masuk", "tgl_pulang", "jenis_rawat", "kelas_rawat",
                   "diagnosa", "tarif_rs")  # fmt: skip
# get_claim_data echoes these as strings.
ECHOED: Final = ("nomor_kartu", "tgl_masuk", "tgl_pulang", "cara_masuk", "jenis_rawat", "kelas_rawat", "adl_sub_acute",
                 "adl_chronic", "icu_indikator", "icu_los", "ventilator_hour", "upgrade_class_ind",
                 "upgrade_class_class", "upgrade_class_los", "upgrade_class_payor", "add_payment_pct",
                 "discharge_status", "kode_tarif", "nama_dokter", "coder_nik", "tgl_lahir", "gender")  # fmt: skip
# Contract field -> the E-Klaim field a refusal names.
EKLAIM_NAME: Final = {"icu_days": "icu_los", "ventilator_hours": "ventilator_hour", "kelas_rs": "kode_tarif",
                      "regional_tarif": "kode_rs", "emergency": "cara_masuk"}  # fmt: skip


def _day(text: str) -> str:
    return text[:10]


def claim_data(draft: Mapping[str, Any], nomor_sep: str, caller: Caller) -> ClaimData:
    """The ClaimData the draft submits, or the E-Klaim refusal naming the field and the rule."""
    assert caller.kode_rs is not None, "only a hospital submits"
    if not str(draft.get("coder_nik", "")).strip():
        raise EklaimError("E2005", "coder_nik", "is mandatory before claim_final")
    missing = [name for name in REQUIRED if name not in draft]
    if missing:
        raise EklaimError("E2030", missing[0], f"is required before claim_final (missing: {', '.join(missing)})")
    kelas_rs = draft.get("kode_tarif") or caller.kode_tarif
    if not kelas_rs:
        raise EklaimError("E2014", "kode_tarif", "neither the claim nor the hospital's setup names one")
    if caller.regional_tarif is None and "regional_tarif" not in draft:
        raise EklaimError("E2015", "kode_rs", f"hospital {caller.kode_rs} has no tariff region set up")
    check_consistent(draft)
    upgrade = bool(draft.get("upgrade_class_ind"))
    if upgrade and "upgrade_class_class" not in draft:
        raise EklaimError("E2032", "upgrade_class_class", "is required with upgrade_class_ind = 1")
    if upgrade and "upgrade_class_payor" not in draft:
        raise EklaimError("E2064", "upgrade_class_payor", "is required with upgrade_class_ind = 1")
    fields: dict[str, Any] = {
        "nomor_sep": nomor_sep,
        "nomor_kartu": draft["nomor_kartu"],
        "kode_rs": caller.kode_rs,
        "kelas_rs": kelas_rs,
        "regional_tarif": draft.get("regional_tarif", caller.regional_tarif),
        "tgl_lahir": _day(draft["tgl_lahir"]),
        "gender": draft["gender"],
        "tgl_masuk": _day(draft["tgl_masuk"]),
        "tgl_pulang": _day(draft["tgl_pulang"]),
        "jenis_rawat": draft["jenis_rawat"],
        "kelas_rawat": draft["kelas_rawat"],
        "upgrade_class_ind": upgrade,
        "upgrade_class_class": draft.get("upgrade_class_class") if upgrade else None,
        "upgrade_class_los": draft.get("upgrade_class_los") if upgrade else None,
        "upgrade_class_payor": draft.get("upgrade_class_payor") if upgrade else None,
        "add_payment_pct": draft.get("add_payment_pct") if upgrade else None,
        "tarif_poli_eks": draft.get("tarif_poli_eks"),
        "emergency": draft.get("emergency", draft.get("cara_masuk") == "emd"),
        "discharge_status": draft.get("discharge_status", 1),
        "birth_weight": draft.get("birth_weight"),
        "icu_days": draft.get("icu_los", 0) if draft.get("icu_indikator") else 0,
        "ventilator_hours": draft.get("ventilator_hour", 0),
        "adl_sub_acute": draft.get("adl_sub_acute"),
        "adl_chronic": draft.get("adl_chronic"),
        "diagnosa": draft["diagnosa"],
        "procedure": draft.get("procedure", []),
        "special_cmg": draft.get("special_cmg", []),
        "tarif_rs": draft["tarif_rs"],
        "coder_nik": draft["coder_nik"],
        "documents": draft.get("documents", []),
    }
    try:
        return ClaimData.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise EklaimError("E2030", eklaim_field(first["loc"]), first["msg"]) from None


def eklaim_field(loc: tuple[int | str, ...]) -> str:
    """A contract error location in E-Klaim's names: ('icu_days',) -> icu_los, ('diagnosa', 1) -> diagnosa[2]."""
    if not loc:
        return "data"
    head = EKLAIM_NAME.get(str(loc[0]), str(loc[0]))
    rest = "".join(f"[{p + 1}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    return head + rest


def draft_from_contract(claim: ClaimData) -> Draft:
    """A ClaimData (POST /v1/claims) as a draft, so E-Klaim's reads and a later re-edit see it too."""
    draft: Draft = {
        "nomor_kartu": claim.nomor_kartu,
        "tgl_lahir": f"{claim.tgl_lahir.isoformat()} 00:00:00",
        "gender": claim.gender,
        "tgl_masuk": f"{claim.tgl_masuk.isoformat()} 00:00:00",
        "tgl_pulang": f"{claim.tgl_pulang.isoformat()} 00:00:00",
        "jenis_rawat": claim.jenis_rawat,
        "kelas_rawat": claim.kelas_rawat,
        "kode_tarif": claim.kelas_rs,
        "regional_tarif": claim.regional_tarif,
        "emergency": claim.emergency,
        "discharge_status": claim.discharge_status,
        "icu_indikator": claim.icu_days > 0,
        "icu_los": claim.icu_days,
        "ventilator_hour": claim.ventilator_hours,
        "upgrade_class_ind": claim.upgrade_class_ind,
        "diagnosa": list(claim.diagnosa),
        "procedure": [p.model_dump() for p in claim.procedure],
        "special_cmg": list(claim.special_cmg),
        "tarif_rs": claim.tarif_rs.model_dump(),
        "coder_nik": claim.coder_nik,
        "documents": [d.model_dump() for d in claim.documents],
    }
    optional = {
        "upgrade_class_class": claim.upgrade_class_class, "upgrade_class_los": claim.upgrade_class_los,
        "upgrade_class_payor": claim.upgrade_class_payor, "add_payment_pct": claim.add_payment_pct,
        "tarif_poli_eks": claim.tarif_poli_eks, "birth_weight": claim.birth_weight,
        "adl_sub_acute": claim.adl_sub_acute, "adl_chronic": claim.adl_chronic,
    }  # fmt: skip
    draft.update({k: v for k, v in optional.items() if v is not None})
    return draft


def _s(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def get_claim_data(draft: Mapping[str, Any], nomor_sep: str, *, final: bool, view: ClaimView | None) -> dict[str, Any]:
    """The draft in get_claim_data's shape: numbers as strings, `#`-joined lists, E-Klaim's field names."""
    procedures = "#".join(
        p["code"] + (f"+{p['qty']}" if p.get("qty", 1) > 1 else "") for p in draft.get("procedure", [])
    )
    out: dict[str, Any] = {
        "nomor_sep": nomor_sep,
        **{name: _s(draft.get(name)) for name in ECHOED},
        "birth_weight": _s(draft.get("birth_weight", 0)),
        "tarif_poli_eks": _s(draft.get("tarif_poli_eks", 0)),
        "diagnosa": "#".join(draft.get("diagnosa", [])),
        "procedure": procedures,
        "special_cmg": "#".join(draft.get("special_cmg", [])),
        "tarif_rs": {k: _s(v) for k, v in draft.get("tarif_rs", {}).items()},
        "documents": draft.get("documents", []),
        # E-Klaim's status_klaim: 1 draft (still editable), 2 final.
        "status_klaim": "2" if final else "1",
    }
    if view is not None:  # what the grouper gave, and where the claim is
        out["cbg_code"] = _s(view.cbg_code)
        out["cbg_tariff"] = _s(view.tarif_grouper)
        out["status_proses"] = view.status
    los = length_of_stay(draft)
    if los is not None:
        out["los"] = str(los)
    if "tgl_lahir" in draft and "tgl_masuk" in draft:
        born, admitted = date.fromisoformat(draft["tgl_lahir"][:10]), date.fromisoformat(draft["tgl_masuk"][:10])
        out["umur_hari"] = (admitted - born).days
    return out
