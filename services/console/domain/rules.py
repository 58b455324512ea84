"""What the console checks before it signs a command, so the operator sees the rule next to the field.

The owning services check again (they are the authority): these are the rules that can be judged from
what the page shows, stated with the services' own rule codes where they have one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

REVIEW_OUTCOMES = ("verify", "adjust", "pend", "reject")
RULINGS = ("upheld", "partial", "denied")


@dataclass(frozen=True)
class FieldError:
    rule: str
    message_id: str
    message_en: str

    def message(self, language: str) -> str:
        return self.message_en if language == "en" else self.message_id


@dataclass
class Refusals:
    """Field name → the rule that refused it ("" for the form as a whole)."""

    errors: dict[str, FieldError] = field(default_factory=dict)

    def add(self, name: str, rule: str, message_id: str, message_en: str) -> None:
        self.errors.setdefault(name, FieldError(rule, message_id, message_en))

    def __bool__(self) -> bool:
        return bool(self.errors)


def parse_amount(text: str) -> int | None:
    """Rupiah as typed: `38940000`, `38.940.000` or `Rp 38.940.000`; None when empty; ValueError otherwise."""
    cleaned = text.strip().removeprefix("Rp").strip().replace(".", "").replace(" ", "")
    if not cleaned:
        return None
    if not cleaned.isdigit():
        raise ValueError(text)
    return int(cleaned)


def _amount(form: Mapping[str, str], name: str, refusals: Refusals) -> int | None:
    try:
        return parse_amount(form.get(name, ""))
    except ValueError:
        refusals.add(name, "C-AMOUNT-FORMAT", "Tulis rupiah tanpa desimal, mis. 38.940.000",
                     "Write whole rupiah, e.g. 38.940.000")  # fmt: skip
        return None


def review_refusals(state: str | None, form: Mapping[str, str]) -> tuple[Refusals, int | None, list[str]]:
    """A reviewer's decision form: the refusals, the approved amount and the missing documents."""
    r = Refusals()
    if state != "in_review":
        r.add("", "V-STATE-NOT-IN-REVIEW", f"Klaim berstatus {state or 'tidak dikenal'}, bukan dalam verifikasi",
              f"The claim is {state or 'unknown'}, not in review")  # fmt: skip
    outcome = form.get("outcome", "")
    note = form.get("note", "").strip()
    if outcome not in REVIEW_OUTCOMES:
        r.add("outcome", "C-OUTCOME", "Pilih keputusan", "Choose an outcome")
    amount = _amount(form, "amount", r)
    if outcome == "adjust" and amount is None and "amount" not in r.errors:
        r.add("amount", "C-AMOUNT-REQUIRED", "Jumlah wajib diisi untuk penyesuaian", "An adjustment needs the amount")
    if outcome in ("adjust", "pend", "reject") and not note:
        r.add("note", "C-REASON-REQUIRED", "Alasan wajib diisi untuk keputusan ini", "This outcome needs a reason")
    missing = [m.strip() for m in form.get("missing", "").split(",") if m.strip()]
    if outcome == "pend" and not missing:
        r.add("missing", "C-MISSING-REQUIRED", "Sebutkan dokumen yang kurang", "Name the missing documents")
    return r, amount, missing


def ruling_refusals(state: str | None, form: Mapping[str, str]) -> tuple[Refusals, int | None]:
    """A dispute panel's ruling form."""
    r = Refusals()
    if state != "disputed":
        r.add("", "V-DISPUTE-NOT-OPEN", f"Klaim berstatus {state or 'tidak dikenal'}, bukan sengketa terbuka",
              f"The claim is {state or 'unknown'}, not disputed")  # fmt: skip
    outcome = form.get("outcome", "")
    if outcome not in RULINGS:
        r.add("outcome", "C-OUTCOME", "Pilih putusan", "Choose a ruling")
    amount = _amount(form, "amount", r)
    if outcome == "partial" and amount is None and "amount" not in r.errors:
        r.add("amount", "C-AMOUNT-REQUIRED", "Jumlah wajib diisi untuk dikabulkan sebagian",
              "A partial ruling needs the amount")  # fmt: skip
    if not form.get("note", "").strip():
        r.add(
            "note",
            "C-REASON-REQUIRED",
            "Alasan wajib diisi (dikirim ke RS)",
            "A reason is required (sent to the hospital)",
        )
    return r, amount


def run_refusals(form: Mapping[str, str]) -> tuple[Refusals, int | None]:
    """A finance maker's payment-run request."""
    r = Refusals()
    funds = _amount(form, "funds", r)
    if funds is None and "funds" not in r.errors:
        r.add("funds", "C-AMOUNT-REQUIRED", "Dana wajib diisi", "Funds are required")
    return r, funds


def approval_refusals(requested_by: str | None, approver: str) -> Refusals:
    """A finance approver's approval: the request must be held, and made by someone else."""
    r = Refusals()
    if requested_by is None:
        r.add(
            "",
            "C-NOT-HELD",
            "Permintaan ini tidak (lagi) menunggu persetujuan",
            "This request is not held for approval",
        )
    elif requested_by == approver:
        r.add("", "FOUR-EYES", f"{approver} yang meminta; operator lain harus menyetujui",
              f"{approver} requested it; another operator must approve it")  # fmt: skip
    return r


def correction_refusals(form: Mapping[str, str]) -> tuple[Refusals, int | None, int]:
    """A VEDIKA reviewer's correction request: recover amount, sequence, finding, case number."""
    r = Refusals()
    recover = _amount(form, "recover", r)
    if (recover is None or recover <= 0) and "recover" not in r.errors:
        r.add("recover", "C-AMOUNT-REQUIRED", "Jumlah harus lebih dari Rp 0", "The amount must be above Rp 0")
    for name in ("claim_id", "reason", "correction_id"):
        if not form.get(name, "").strip():
            r.add(name, "C-REQUIRED", "Wajib diisi", "Required")
    seq_text = form.get("seq", "0").strip() or "0"
    if not seq_text.isdigit():
        r.add("seq", "C-SEQ", "Nomor urut pembayaran: 0, 1, 2…", "Payment number: 0, 1, 2…")
        return r, recover, 0
    return r, recover, int(seq_text)
