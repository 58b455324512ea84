"""The console's words in Bahasa Indonesia (the default) and English.

`translate(language, key, **values)` looks a key up; a key nobody wrote a text for is shown as itself, so a
missing translation is visible on the page, never an error. Other parts of the console (analytics,
operations) add their own texts with `register`.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

_MESSAGES: dict[str, dict[str, str]] = {
    # layout
    "app.title": {"id": "Konsol Operator JKN", "en": "JKN Operator Console"},
    "nav.review": {"id": "Antrean verifikasi", "en": "Review queue"},
    "nav.disputes": {"id": "Sengketa", "en": "Disputes"},
    "nav.approvals": {"id": "Persetujuan pembayaran", "en": "Payment approvals"},
    "nav.corrections": {"id": "Koreksi VEDIKA", "en": "VEDIKA corrections"},
    "nav.analytics": {"id": "Analitik", "en": "Analytics"},
    "nav.operations": {"id": "Operasional", "en": "Operations"},
    "nav.sign_out": {"id": "Keluar", "en": "Sign out"},
    "nav.language": {"id": "English", "en": "Bahasa Indonesia"},
    "nav.signed_in_as": {"id": "Masuk sebagai {operator} ({roles})", "en": "Signed in as {operator} ({roles})"},
    # sign-in
    "login.title": {"id": "Masuk", "en": "Sign in"},
    "login.operator": {"id": "ID operator", "en": "Operator id"},
    "login.password": {"id": "Kata sandi", "en": "Password"},
    "login.submit": {"id": "Masuk", "en": "Sign in"},
    "login.failed": {"id": "ID operator atau kata sandi salah.", "en": "Wrong operator id or password."},
    "login.locked": {
        "id": "Akun terkunci setelah {attempts} kali salah kata sandi, sampai {until}. Hubungi admin untuk membuka.",
        "en": "Account locked after {attempts} wrong passwords, until {until}. Ask an admin to unlock it.",
    },
    "login.no_roles": {
        "id": "Operator ini tidak ada di registri operator.",
        "en": "This operator is not in the operator registry.",
    },
    # errors
    "forbidden.title": {"id": "Tidak diizinkan", "en": "Not allowed"},
    "forbidden.body": {
        "id": "Halaman ini memerlukan peran {needed}. Peran Anda: {held}.",
        "en": "This page needs the role {needed}. Your roles: {held}.",
    },
    "csrf.refused": {
        "id": "Formulir kedaluwarsa atau bukan dari konsol ini; muat ulang halaman.",
        "en": "The form expired or did not come from this console; reload the page.",
    },
    # review queue
    "review.title": {"id": "Klaim menunggu verifikasi", "en": "Claims held for review"},
    "review.empty": {"id": "Tidak ada klaim dalam antrean.", "en": "No claim is waiting."},
    "filter.hospital": {"id": "Rumah sakit", "en": "Hospital"},
    "filter.cbg": {"id": "INA-CBG (awalan, mis. K-1)", "en": "INA-CBG (prefix, e.g. K-1)"},
    "filter.reason": {"id": "Alasan", "en": "Reason"},
    "filter.age": {"id": "Umur minimal (hari)", "en": "Older than (days)"},
    "filter.apply": {"id": "Saring", "en": "Filter"},
    "col.claim": {"id": "Klaim", "en": "Claim"},
    "col.sep": {"id": "SEP", "en": "SEP"},
    "col.hospital": {"id": "RS", "en": "Hospital"},
    "col.cbg": {"id": "INA-CBG", "en": "INA-CBG"},
    "col.submitted": {"id": "Diajukan", "en": "Submitted"},
    "col.age": {"id": "Umur (hari)", "en": "Age (days)"},
    "col.claimed": {"id": "Tarif diajukan", "en": "Claimed"},
    "col.reasons": {"id": "Ditahan karena", "en": "Held because"},
    "col.state": {"id": "Status", "en": "State"},
    "col.approved": {"id": "Disetujui", "en": "Approved"},
    "col.requested": {"id": "Diminta RS", "en": "Hospital asks"},
    "col.reason": {"id": "Alasan RS", "en": "Hospital's reason"},
    "col.kind": {"id": "Jenis", "en": "Kind"},
    "col.id": {"id": "ID", "en": "Id"},
    "col.requested_by": {"id": "Diminta oleh", "en": "Requested by"},
    "col.requested_at": {"id": "Waktu permintaan", "en": "Requested at"},
    "col.at": {"id": "Waktu", "en": "At"},
    "col.event": {"id": "Peristiwa", "en": "Event"},
    "col.detail": {"id": "Rincian", "en": "Detail"},
    # claim page
    "claim.title": {"id": "Klaim {claim_id}", "en": "Claim {claim_id}"},
    "claim.timeline": {"id": "Riwayat klaim", "en": "Timeline"},
    "claim.unknown": {"id": "Verifikator tidak mengenal klaim ini.", "en": "The verifier does not know this claim."},
    "claim.decide": {"id": "Keputusan verifikator", "en": "Reviewer's decision"},
    "claim.outcome": {"id": "Keputusan", "en": "Outcome"},
    "claim.note": {"id": "Alasan / catatan", "en": "Reason / note"},
    "claim.amount": {"id": "Jumlah disetujui (Rp)", "en": "Approved amount (Rp)"},
    "claim.missing": {"id": "Dokumen kurang (pisahkan dengan koma)", "en": "Missing documents (comma-separated)"},
    "claim.submit": {"id": "Kirim keputusan", "en": "Send decision"},
    "outcome.verify": {"id": "Layak (verifikasi)", "en": "Verify"},
    "outcome.adjust": {"id": "Layak dengan penyesuaian", "en": "Adjust"},
    "outcome.pend": {"id": "Pending (dokumen kurang)", "en": "Pend (documents missing)"},
    "outcome.reject": {"id": "Tidak layak (tolak)", "en": "Reject"},
    "outcome.upheld": {"id": "Dikabulkan", "en": "Upheld"},
    "outcome.partial": {"id": "Dikabulkan sebagian", "en": "Partly upheld"},
    "outcome.denied": {"id": "Ditolak", "en": "Denied"},
    "stale": {
        "id": "Halaman ini sudah usang: klaim berubah ({was} → {now}) sejak halaman dibuka. Tidak ada yang dikirim; "
        "periksa riwayat terbaru lalu putuskan lagi.",
        "en": "This page is stale: the claim moved on ({was} → {now}) since it was opened. Nothing was sent; "
        "check the latest timeline and decide again.",
    },
    # disputes
    "disputes.title": {"id": "Sengketa terbuka", "en": "Open disputes"},
    "disputes.empty": {"id": "Tidak ada sengketa terbuka.", "en": "No open dispute."},
    "disputes.rule": {"id": "Putuskan sengketa", "en": "Rule on the dispute"},
    "disputes.amount": {"id": "Jumlah tambahan (Rp, untuk sebagian)", "en": "Supplementary amount (Rp, for partial)"},
    "disputes.submit": {"id": "Kirim putusan", "en": "Send ruling"},
    # approvals
    "approvals.title": {"id": "Pembayaran menunggu persetujuan", "en": "Payments awaiting approval"},
    "approvals.empty": {"id": "Tidak ada permintaan menunggu.", "en": "Nothing is waiting for approval."},
    "approvals.approve": {"id": "Setujui", "en": "Approve"},
    "approvals.request_run": {"id": "Minta proses pembayaran", "en": "Request a payment run"},
    "approvals.funds": {"id": "Dana tersedia (Rp)", "en": "Funds available (Rp)"},
    "approvals.run_id": {"id": "ID proses (opsional)", "en": "Run id (optional)"},
    "approvals.submit_run": {"id": "Minta proses", "en": "Request run"},
    "approvals.recent": {"id": "Proses pembayaran terakhir", "en": "Recent payment runs"},
    "approvals.paid": {"id": "{count} klaim dibayar, total {total}", "en": "{count} claims paid, {total} in all"},
    # corrections
    "corrections.title": {"id": "Koreksi pasca-bayar (VEDIKA)", "en": "Post-payment corrections (VEDIKA)"},
    "corrections.claim": {"id": "ID klaim", "en": "Claim id"},
    "corrections.recover": {"id": "Jumlah dikembalikan RS (Rp)", "en": "Amount the hospital owes back (Rp)"},
    "corrections.reason": {"id": "Temuan", "en": "Finding"},
    "corrections.case": {"id": "Nomor kasus VEDIKA", "en": "VEDIKA case number"},
    "corrections.seq": {"id": "Pembayaran ke- (0 utama)", "en": "Which payment (0 main)"},
    "corrections.submit": {"id": "Ajukan koreksi", "en": "Request correction"},
    "corrections.held": {"id": "Koreksi menunggu persetujuan", "en": "Corrections awaiting approval"},
    # actions
    "action.waiting": {"id": "Menunggu layanan menerapkan perintah…", "en": "Waiting for the service to apply it…"},
    "action.took_effect": {"id": "Berlaku: {what}", "en": "Took effect: {what}"},
    "action.refused": {"id": "Ditolak layanan: {why}", "en": "Refused by the service: {why}"},
    "action.held": {
        "id": "Tercatat, menunggu persetujuan operator kedua",
        "en": "Recorded, waiting for a second operator",
    },
    "action.sent": {"id": "Perintah {kind} ditandatangani dan dicatat", "en": "Command {kind} signed and recorded"},
    "action.slow": {
        "id": "Belum diterapkan setelah 30 detik. Layanan menolak perintah yang tidak sah ke {topic}.dlq "
        "(`claimsctl dlq list --topic {topic}`); perintahnya tidak hilang.",
        "en": "Not applied after 30 seconds. The service dead-letters a command it refuses to {topic}.dlq "
        "(`claimsctl dlq list --topic {topic}`); the command is not lost.",
    },
    "action.back": {"id": "Kembali ke antrean", "en": "Back to the queue"},
    "state.received": {"id": "diterima", "en": "received"},
    "state.grouped": {"id": "sudah di-grouping", "en": "grouped"},
    "state.resubmitted": {"id": "diajukan ulang", "en": "resubmitted"},
    "state.pend_expired": {"id": "pending kedaluwarsa", "en": "pend expired"},
    "state.in_review": {"id": "dalam verifikasi", "en": "in review"},
    "state.verified": {"id": "layak", "en": "verified"},
    "state.verified_adjusted": {"id": "layak (disesuaikan)", "en": "verified (adjusted)"},
    "state.pended": {"id": "pending", "en": "pended"},
    "state.rejected": {"id": "tidak layak", "en": "rejected"},
    "state.disputed": {"id": "sengketa", "en": "disputed"},
    "state.dispute_resolved": {"id": "sengketa diputus", "en": "dispute resolved"},
    "state.paid": {"id": "dibayar", "en": "paid"},
    "rule.required": {"id": "Wajib diisi", "en": "Required"},
}


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add texts (`{key: {"id": ..., "en": ...}}`), e.g. the analytics pages' own."""
    for key, texts in messages.items():
        _MESSAGES[key] = dict(texts)


def translate(language: str, key: str, **values: object) -> str:
    """The text of `key` in `language` (else Indonesian, else the key itself), with `{name}`s filled in."""
    texts = _MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(language) or texts.get(DEFAULT_LANGUAGE) or key
    try:
        return text.format(**values) if values else text
    except (KeyError, IndexError):
        return text


def keys() -> frozenset[str]:
    return frozenset(_MESSAGES)
