"""E-Klaim's error numbers, and the refusal the gateway answers with.

The numbers and their Indonesian texts are E-Klaim's own (web service manual 5.10.x, "Daftar Kode Error"
E2001-E2099), so a SIMRS bridge that already branches on `error_no` keeps working. The gateway adds the
field and the rule to every refusal (in `message` and `metadata.field`), which E-Klaim does not always do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# error_no -> (E-Klaim's text, the HTTP status the gateway answers with).
ERRORS: Final[dict[str, tuple[str, int]]] = {
    "E2001": ("Method tidak ada", 400),
    "E2004": ("Nomor SEP tidak ditemukan", 404),
    "E2005": ("NIK Coder masih kosong", 400),
    "E2007": ("Duplikasi nomor SEP", 409),
    "E2009": ("Klaim sudah final", 409),
    "E2011": ("Klaim tidak bisa diubah/edit", 409),
    "E2012": ("Tanggal Pulang mendahului Tanggal Masuk", 400),
    "E2013": ("Lama rawat intensif melebihi total lama rawat", 400),
    "E2014": ("Kode tarif invalid", 400),
    "E2015": ("Kode RS belum disetup", 400),
    "E2019": ("Tanggal invalid", 400),
    "E2021": ("Gagal men-decode JSON - Maximum stack depth exceeded", 400),
    "E2024": ("Gagal men-decode JSON - Syntax error, malformed JSON", 400),
    "E2025": ("Gagal men-decode JSON - Malformed UTF-8 characters", 400),
    "E2028": ("Jenis rawat invalid", 400),
    "E2030": ("Parameter tidak lengkap", 400),
    "E2031": ("Key Mismatch", 401),
    "E2032": ("Parameter kenaikan kelas tersebut tidak diperbolehkan", 400),
    "E2038": ("Gagal hapus, klaim sudah diproses", 409),
    "E2039": ("Gagal edit ulang, klaim sudah dikirim", 409),
    "E2045": ("Ukuran melebihi batas maksimal", 413),
    "E2062": ("Lama rawat kelas upgrade lebih lama dari total lama rawat", 400),
    "E2064": ("upgrade_class_payor masih kosong atau tidak sesuai ketentuan", 400),
    "E2065": ("Kelas 3 tidak diperkenankan naik kelas", 400),
    "E2099": ("Error tidak diketahui", 500),
}


@dataclass(eq=False)  # not frozen: Python sets __traceback__ on exceptions it raises
class EklaimError(Exception):
    """A refused E-Klaim request: the error number, the field it is about and the rule it broke."""

    error_no: str
    field: str | None
    rule: str
    http_status: int | None = None  # instead of the number's own (403 for a credential that may not act)

    def __post_init__(self) -> None:
        if self.error_no not in ERRORS:
            raise ValueError(f"unknown E-Klaim error number {self.error_no}")

    @property
    def status(self) -> int:
        """The HTTP status of the answer."""
        return self.http_status or ERRORS[self.error_no][1]

    @property
    def message(self) -> str:
        """E-Klaim's text, then the field and the rule."""
        text = ERRORS[self.error_no][0]
        return f"{text}: {self.field}: {self.rule}" if self.field else f"{text}: {self.rule}"

    def __str__(self) -> str:
        return f"{self.error_no} {self.message}"
