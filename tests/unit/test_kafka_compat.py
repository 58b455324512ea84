"""A header name that is not UTF-8 no longer stops aiokafka's fetcher: its batch is re-read tolerantly.

Batches are built as a producer writes them and fed to aiokafka's own PartitionRecords, the object
`getmany` drains; the broker round trip is covered in tests/integration/test_invalid_header_names.py.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from aiokafka.consumer.fetcher import READ_UNCOMMITTED, PartitionRecords
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from shared import kafka_compat

GZIP = 0x01


class RawName(str):
    """A header name whose bytes on the wire are `raw`: what a Java or librdkafka producer may write."""

    raw = b"\xff\xfe-name"

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


Header = tuple[str, bytes | None]


def batch(base_offset: int, records: list[tuple[bytes, list[Header]]], compression: int = 0) -> bytes:
    builder = _DefaultRecordBatchBuilderPy(2, compression, 0, -1, -1, -1, 1 << 20)
    for delta, (value, headers) in enumerate(records):
        builder.append(delta, 1_700_000_000_000, b"C-1", value, headers)
    built = builder.build()
    struct.pack_into(">q", built, 0, base_offset)  # the broker's base offset (outside the CRC)
    return bytes(built)


def drain(data: bytes, records: Any, fetch_offset: int = 0) -> tuple[list[Any], int]:
    tp = TopicPartition("claims.submitted", 0)
    part = PartitionRecords(tp, records, [], fetch_offset, None, None, True, READ_UNCOMMITTED)
    return list(part), part.next_fetch_offset


@pytest.fixture(autouse=True)
def installed() -> None:
    kafka_compat.install()
    kafka_compat.install()  # a second install changes nothing


def test_a_bad_header_name_mid_batch_is_decoded_losslessly_and_the_records_after_it_follow() -> None:
    data = batch(0, [(b"v0", []), (b"v1", [(RawName("x"), b"h"), ("trace", b"t")]), (b"v2", [])]) + batch(
        3, [(b"v3", [("trace", b"u")]), (b"v4", [])]
    )

    got, next_offset = drain(data, kafka_compat.RecordsKeepingBytes(data))

    assert [(r.offset, r.value) for r in got] == [(0, b"v0"), (1, b"v1"), (2, b"v2"), (3, b"v3"), (4, b"v4")]
    assert got[1].headers == (("\udcff\udcfe-name", b"h"), ("trace", b"t"))
    assert got[1].headers[0][0].encode("utf-8", "surrogateescape") == b"\xff\xfe-name"
    assert got[3].headers == (("trace", b"u"),)
    assert next_offset == 5


def test_a_compressed_batch_with_a_bad_header_name_is_re_read_too() -> None:
    filler = b"claim " * 200  # compressible, so the builder keeps it gzip-compressed
    data = batch(10, [(filler, []), (filler, [(RawName("x"), None)]), (b"v12", [])], compression=GZIP)

    got, next_offset = drain(data, kafka_compat.RecordsKeepingBytes(data))

    assert [r.offset for r in got] == [10, 11, 12]
    assert got[1].headers == (("\udcff\udcfe-name", None),)
    assert next_offset == 13


def test_records_before_the_fetch_offset_are_not_handed_out_again() -> None:
    data = batch(0, [(b"v0", [(RawName("x"), b"h")]), (b"v1", []), (b"v2", [])])

    got, next_offset = drain(data, kafka_compat.RecordsKeepingBytes(data), fetch_offset=1)

    assert [r.offset for r in got] == [1, 2]
    assert next_offset == 3


def test_records_read_without_the_kept_bytes_still_fail_as_aiokafka_does() -> None:
    data = batch(0, [(b"v0", [(RawName("x"), b"h")])])

    with pytest.raises(UnicodeDecodeError):
        drain(data, MemoryRecords(data))
