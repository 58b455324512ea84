"""Message templates (string.Template), Indonesian and English, one pair per message kind.

Placeholders are filled by `messages.render` with values already formatted for the reader
(dates in words, instants in the subscriber's zone, rupiah grouped). Lists arrive as
ready-made bullet lines. Edit wording here; a unit test renders every template in both
languages.
"""

from __future__ import annotations

from services.notifier.domain.model import Language

Template = tuple[str, str]  # (subject, body)

_FOOTER_ID = (
    "\n\nID klaim: ${claim_id}\nWaktu kejadian: ${occurred_at}\n-- \nNotifikasi klaim JKN (otomatis, jangan dibalas)\n"
)
_FOOTER_EN = (
    "\n\nClaim ID: ${claim_id}\nEvent time: ${occurred_at}\n-- \nJKN claims notification (automatic, do not reply)\n"
)

TEMPLATES: dict[str, dict[Language, Template]] = {
    "ClaimPended": {
        "id": (
            "Klaim ${nomor_sep} ditunda: lengkapi berkas paling lambat ${resubmit_by}",
            "Kepada Yth. Rumah Sakit ${kode_rs},\n\n"
            "Klaim dengan SEP ${nomor_sep} (pengajuan ke-${submission}) ditunda (pending) oleh verifikator "
            "BPJS Kesehatan pada ${pended_on}.\n\n"
            "Yang perlu dilengkapi:\n${missing}\n\n"
            "Ajukan ulang klaim dengan berkas lengkap paling lambat ${resubmit_by}." + _FOOTER_ID,
        ),
        "en": (
            "Claim ${nomor_sep} pended: complete the file by ${resubmit_by}",
            "Dear hospital ${kode_rs},\n\n"
            "The claim with SEP ${nomor_sep} (submission ${submission}) was pended by the BPJS Kesehatan "
            "verifier on ${pended_on}.\n\n"
            "What is missing:\n${missing}\n\n"
            "Resubmit the claim with the complete file by ${resubmit_by}." + _FOOTER_EN,
        ),
    },
    "ClaimRejected.refusal": {
        "id": (
            "Permintaan untuk klaim ${nomor_sep} tidak dapat diproses",
            "Kepada Yth. Rumah Sakit ${kode_rs},\n\n"
            "Permintaan terakhir untuk klaim dengan SEP ${nomor_sep} tidak dapat diproses pada tahap ${stage} "
            "pada ${rejected_on}. Status klaim itu sendiri tidak berubah.\n\n"
            "Alasan:\n${reasons}" + _FOOTER_ID,
        ),
        "en": (
            "Request about claim ${nomor_sep} refused",
            "Dear hospital ${kode_rs},\n\n"
            "Your latest request about the claim with SEP ${nomor_sep} was refused at the ${stage} stage "
            "on ${rejected_on}. The claim itself keeps its state.\n\n"
            "Reasons:\n${reasons}" + _FOOTER_EN,
        ),
    },
    "ClaimRejected": {
        "id": (
            "Klaim ${nomor_sep} ditolak",
            "Kepada Yth. Rumah Sakit ${kode_rs},\n\n"
            "Klaim dengan SEP ${nomor_sep} (pengajuan ke-${submission}) ditolak pada tahap ${stage} "
            "pada ${rejected_on}.\n\n"
            "Alasan:\n${reasons}\n\n"
            "Perbaiki data klaim sesuai alasan di atas sebelum mengajukannya kembali." + _FOOTER_ID,
        ),
        "en": (
            "Claim ${nomor_sep} rejected",
            "Dear hospital ${kode_rs},\n\n"
            "The claim with SEP ${nomor_sep} (submission ${submission}) was rejected at the ${stage} stage "
            "on ${rejected_on}.\n\n"
            "Reasons:\n${reasons}\n\n"
            "Correct the claim as described above before submitting it again." + _FOOTER_EN,
        ),
    },
    "ClaimVerified": {
        "id": (
            "Klaim ${nomor_sep} terverifikasi: ${approved_amount}",
            "Kepada Yth. Rumah Sakit ${kode_rs},\n\n"
            "Klaim dengan SEP ${nomor_sep} telah diverifikasi (${verification}) pada ${verified_on}${deemed}.\n\n"
            "Jumlah disetujui: ${approved_amount}\n"
            "Jumlah diajukan (tarif INA-CBG): ${claimed_amount}\n\n"
            "Tanggal verifikasi ini memulai hitungan batas waktu pembayaran oleh BPJS Kesehatan." + _FOOTER_ID,
        ),
        "en": (
            "Claim ${nomor_sep} verified: ${approved_amount}",
            "Dear hospital ${kode_rs},\n\n"
            "The claim with SEP ${nomor_sep} was verified (${verification}) on ${verified_on}${deemed}.\n\n"
            "Approved amount: ${approved_amount}\n"
            "Claimed amount (INA-CBG tariff): ${claimed_amount}\n\n"
            "The verification date starts BPJS Kesehatan's payment deadline." + _FOOTER_EN,
        ),
    },
    "ClaimVerified.adjusted": {
        "id": (
            "Klaim ${nomor_sep} disetujui dengan penyesuaian: ${approved_amount}",
            "Kepada Yth. Rumah Sakit ${kode_rs},\n\n"
            "Klaim dengan SEP ${nomor_sep} telah diverifikasi (${verification}) pada ${verified_on} "
            "dengan penyesuaian${deemed}.\n\n"
            "Jumlah diajukan (tarif INA-CBG): ${claimed_amount}\n"
            "Jumlah disetujui: ${approved_amount}\n"
            "Selisih: ${difference}\n\n"
            "Penyesuaian:\n${adjustments}\n\n"
            "${dispute}" + _FOOTER_ID,
        ),
        "en": (
            "Claim ${nomor_sep} approved with adjustments: ${approved_amount}",
            "Dear hospital ${kode_rs},\n\n"
            "The claim with SEP ${nomor_sep} was verified (${verification}) on ${verified_on} "
            "with adjustments${deemed}.\n\n"
            "Claimed amount (INA-CBG tariff): ${claimed_amount}\n"
            "Approved amount: ${approved_amount}\n"
            "Difference: ${difference}\n\n"
            "Adjustments:\n${adjustments}\n\n"
            "${dispute}" + _FOOTER_EN,
        ),
    },
    "ClaimDisputeResolved": {
        "id": (
            "Hasil sengketa klaim ${nomor_sep}: ${outcome}",
            "Kepada Yth. Rumah Sakit ${kode_rs},\n\n"
            "Sengketa atas klaim dengan SEP ${nomor_sep} telah diputus pada ${resolved_on}: ${outcome}.\n\n"
            "Jumlah tambahan: ${supplementary_amount}\n"
            "Peninjau: ${reviewer}\n"
            "Catatan: ${note}\n\n"
            "${next_step}" + _FOOTER_ID,
        ),
        "en": (
            "Dispute outcome for claim ${nomor_sep}: ${outcome}",
            "Dear hospital ${kode_rs},\n\n"
            "The dispute about the claim with SEP ${nomor_sep} was decided on ${resolved_on}: ${outcome}.\n\n"
            "Supplementary amount: ${supplementary_amount}\n"
            "Reviewer: ${reviewer}\n"
            "Note: ${note}\n\n"
            "${next_step}" + _FOOTER_EN,
        ),
    },
    "ClaimPaid": {
        "id": (
            "Pembayaran klaim ${nomor_sep}: ${total_paid}",
            "Kepada Yth. Rumah Sakit ${kode_rs},\n\n"
            "BPJS Kesehatan telah membayar klaim dengan SEP ${nomor_sep} pada ${paid_on}.\n\n"
            "Jumlah disetujui: ${approved_amount}\n"
            "Denda keterlambatan: ${penalty}\n"
            "Total dibayar: ${total_paid}\n"
            "Jatuh tempo: ${due_on}\n"
            "${lateness}\n"
            "ID pembayaran: ${payment_id} (run ${payment_run_id})" + _FOOTER_ID,
        ),
        "en": (
            "Payment for claim ${nomor_sep}: ${total_paid}",
            "Dear hospital ${kode_rs},\n\n"
            "BPJS Kesehatan paid the claim with SEP ${nomor_sep} on ${paid_on}.\n\n"
            "Approved amount: ${approved_amount}\n"
            "Late-payment penalty: ${penalty}\n"
            "Total paid: ${total_paid}\n"
            "Due date: ${due_on}\n"
            "${lateness}\n"
            "Payment ID: ${payment_id} (run ${payment_run_id})" + _FOOTER_EN,
        ),
    },
    "ClaimDeadlineReminder": {
        "id": (
            "Pengingat: ${deadline_name} klaim ${nomor_sep} ${deadline}",
            "Kepada Yth. Rumah Sakit ${kode_rs},\n\n"
            "Per ${as_of}, tersisa ${working_days_left} hari kerja hingga ${deadline}, hari terakhir untuk "
            "${action} (SEP ${nomor_sep})." + _FOOTER_ID,
        ),
        "en": (
            "Reminder: ${deadline_name} for claim ${nomor_sep} is ${deadline}",
            "Dear hospital ${kode_rs},\n\n"
            "As of ${as_of}, ${working_days_left} working day(s) remain until ${deadline}, the last day to "
            "${action} (SEP ${nomor_sep})." + _FOOTER_EN,
        ),
    },
    "PaymentDeadlineApproaching": {
        "id": (
            "Jatuh tempo pembayaran klaim ${nomor_sep}: ${due_on}",
            "Kepada Yth. Rumah Sakit ${kode_rs},\n\n"
            "Pembayaran klaim dengan SEP ${nomor_sep} sebesar ${amount} (${verification}) jatuh tempo pada "
            "${due_on}; per ${as_of} tersisa ${working_days_left} hari kerja. Pembayaran setelah tanggal "
            "tersebut dikenai denda keterlambatan yang dibayarkan kepada rumah sakit." + _FOOTER_ID,
        ),
        "en": (
            "Payment for claim ${nomor_sep} due ${due_on}",
            "Dear hospital ${kode_rs},\n\n"
            "Payment of ${amount} for the claim with SEP ${nomor_sep} (${verification}) is due on ${due_on}; "
            "as of ${as_of}, ${working_days_left} working day(s) remain. A later payment carries a late-payment "
            "penalty paid to the hospital." + _FOOTER_EN,
        ),
    },
    "PaymentOverdue": {
        "id": (
            "Pembayaran klaim ${nomor_sep} terlambat ${days_late} hari",
            "Kepada operator,\n\n"
            "Klaim dengan SEP ${nomor_sep} dari rumah sakit ${kode_rs} (${verification}) sebesar ${amount} "
            "jatuh tempo pada ${due_on} dan belum dibayar per ${as_of}: terlambat ${days_late} hari.\n"
            "Denda berjalan: ${accrued_penalty} (metode ${penalty_method})." + _FOOTER_ID,
        ),
        "en": (
            "Payment for claim ${nomor_sep} is ${days_late} day(s) overdue",
            "Dear operator,\n\n"
            "The claim with SEP ${nomor_sep} from hospital ${kode_rs} (${verification}) for ${amount} "
            "was due on ${due_on} and is unpaid as of ${as_of}: ${days_late} day(s) late.\n"
            "Accrued penalty: ${accrued_penalty} (${penalty_method} method)." + _FOOTER_EN,
        ),
    },
    "DeadLetterArrived": {
        "id": (
            "DLQ: pesan tidak terbaca di ${topic} (${error})",
            "Kepada operator,\n\n"
            "Sebuah pesan masuk ke ${topic} (partisi ${partition}, offset ${offset}).\n\n"
            "Kesalahan: ${error}\n"
            "Alasan: ${reason}\n"
            "Konsumen: ${consumer}\n"
            "Sumber: ${source_topic} partisi ${source_partition} offset ${source_offset}\n"
            "Kunci: ${key}\n"
            "Awal isi: ${preview}\n\n"
            "Periksa dengan: claimsctl tail ${topic} --from-beginning" + _FOOTER_ID,
        ),
        "en": (
            "DLQ: unreadable message on ${topic} (${error})",
            "Dear operator,\n\n"
            "A message arrived on ${topic} (partition ${partition}, offset ${offset}).\n\n"
            "Error: ${error}\n"
            "Reason: ${reason}\n"
            "Consumer: ${consumer}\n"
            "Source: ${source_topic} partition ${source_partition} offset ${source_offset}\n"
            "Key: ${key}\n"
            "Start of value: ${preview}\n\n"
            "Inspect it with: claimsctl tail ${topic} --from-beginning" + _FOOTER_EN,
        ),
    },
    "DeliveryFailed": {
        "id": (
            "Notifikasi gagal terkirim: ${event_type} untuk ${receiver}",
            "Kepada operator,\n\n"
            "Pengiriman #${delivery_id} (${channel}, langganan #${subscription_id}) "
            "untuk ${event_type} gagal setelah ${attempts} percobaan.\n\n"
            "Penerima: ${receiver}\n"
            "Rumah sakit: ${kode_rs}\n"
            "Kesalahan terakhir: ${last_error}\n\n"
            "Riwayat pengiriman: claimsctl notify log ${claim_id}" + _FOOTER_ID,
        ),
        "en": (
            "Notification not delivered: ${event_type} for ${receiver}",
            "Dear operator,\n\n"
            "Delivery #${delivery_id} (${channel}, subscription #${subscription_id}) "
            "of ${event_type} failed after ${attempts} attempt(s).\n\n"
            "Receiver: ${receiver}\n"
            "Hospital: ${kode_rs}\n"
            "Last error: ${last_error}\n\n"
            "Delivery history: claimsctl notify log ${claim_id}" + _FOOTER_EN,
        ),
    },
}

# Words that vary with a value, per language.
PHRASES: dict[Language, dict[str, str]] = {
    "id": {
        "stage.grouper": "pengelompokan (grouper INA-CBG)",
        "stage.verifier": "verifikasi",
        "verification.main": "verifikasi utama",
        "verification.supplementary": "verifikasi tambahan ke-{seq}",
        "deemed": " (dianggap lengkap karena tidak ada keputusan dalam batas waktu kelengkapan berkas)",
        "dispute.open": "Bila tidak setuju, ajukan sengketa (ClaimDisputed, melalui sistem rumah sakit Anda) "
        "beserta alasan dan dokumen pendukung paling lambat {dispute_by}.",
        "dispute.closed": "Keputusan ini tidak dapat disengketakan.",
        "outcome.upheld": "dikabulkan",
        "outcome.partial": "dikabulkan sebagian",
        "outcome.denied": "ditolak",
        "next.paid": "Jumlah tambahan akan dibayarkan sebagai verifikasi tambahan.",
        "next.none": "Tidak ada pembayaran tambahan.",
        "late": "Terlambat {days} hari; denda dihitung dengan metode {method}.",
        "on_time": "Dibayar tepat waktu (tanpa denda).",
        "method.daily_pro_rata": "pro rata harian",
        "method.full_months": "per bulan penuh",
        "method.started_months": "per bulan berjalan",
        "deadline.resubmit": "batas pengajuan ulang",
        "deadline.dispute": "batas pengajuan sengketa",
        "action.resubmit": "mengajukan ulang klaim yang ditunda dengan berkas lengkap",
        "action.dispute": "mengajukan sengketa atas keputusan verifikasi",
        "none": "(tidak ada)",
    },
    "en": {
        "stage.grouper": "grouping (INA-CBG grouper)",
        "stage.verifier": "verification",
        "verification.main": "main verification",
        "verification.supplementary": "supplementary verification no. {seq}",
        "deemed": " (deemed complete: no decision within the completeness window)",
        "dispute.open": "If you disagree, file a dispute (ClaimDisputed, from your hospital system) with the "
        "reason and supporting documents by {dispute_by}.",
        "dispute.closed": "This decision cannot be disputed.",
        "outcome.upheld": "upheld",
        "outcome.partial": "partially upheld",
        "outcome.denied": "denied",
        "next.paid": "The supplementary amount will be paid as a supplementary verification.",
        "next.none": "No supplementary payment follows.",
        "late": "Paid {days} day(s) late; penalty by the {method} method.",
        "on_time": "Paid on time (no penalty).",
        "method.daily_pro_rata": "daily pro rata",
        "method.full_months": "full months",
        "method.started_months": "started months",
        "deadline.resubmit": "resubmission deadline",
        "deadline.dispute": "dispute deadline",
        "action.resubmit": "resubmit the pended claim with the complete file",
        "action.dispute": "dispute the verification decision",
        "none": "(none)",
    },
}
