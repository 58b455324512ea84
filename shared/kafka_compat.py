"""Consuming records whose header NAME is not valid UTF-8, which Java and librdkafka producers can write.

aiokafka decodes header names as strict UTF-8, so iterating a batch holding such a record raises
UnicodeDecodeError on every `getmany` and the partition never advances: one record from any producer
would stall every consumer of its topic. `install()` makes aiokafka's fetcher re-read only such a batch
with a tolerant reader whose header names are decoded with `surrogateescape` (lossless:
`name.encode("utf-8", "surrogateescape")` gives the original bytes back), going on from the record the
batch failed at; ordinary batches keep aiokafka's compiled reader. Installed once per process by
everything that creates a consumer (shared/runtime.py, shared/kafka_read.py, the notifier's DLQ watcher);
claimsctl's `tail` and `dlq` and the simulator import shared.runtime before they consume.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import _DefaultRecordBatchPy, _DefaultRecordPy
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import decode_varint

# Every batch format starts BaseOffset (int64), Length (int32); Length counts the bytes after it.
_LENGTH = struct.Struct(">i")
_LENGTH_AT, _LOG_OVERHEAD, _MAGIC_AT = 8, 12, 16  # then PartitionLeaderEpoch (int32) and Magic (int8)


class TolerantRecordBatch(_DefaultRecordBatchPy):  # type: ignore[misc]  # aiokafka's reader, marked @final
    """aiokafka's pure-Python batch reader (magic 2), decoding header names with `surrogateescape`."""

    _buffer: bytearray  # set by aiokafka: the (decompressed) records and where the next one starts
    _pos: int

    # Copied from aiokafka 0.14.0, aiokafka/record/default_records.py `_DefaultRecordBatchPy._read_msg`
    # (Apache License 2.0, Copyright the aiokafka authors); only the header-name decode differs.
    def _read_msg(self) -> Any:
        buffer, pos = self._buffer, self._pos
        length, pos = decode_varint(buffer, pos)
        start_pos = pos
        _, pos = decode_varint(buffer, pos)  # attributes: unused
        ts_delta, pos = decode_varint(buffer, pos)
        log_append = self.timestamp_type == self.LOG_APPEND_TIME
        timestamp = self.max_timestamp if log_append else self.first_timestamp + ts_delta
        offset_delta, pos = decode_varint(buffer, pos)
        key, pos = _nullable_bytes(buffer, pos)
        value, pos = _nullable_bytes(buffer, pos)
        header_count, pos = decode_varint(buffer, pos)
        if header_count < 0:
            raise CorruptRecordException(f"Found invalid number of record headers {header_count}")
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(header_count):
            h_key_len, pos = decode_varint(buffer, pos)
            if h_key_len < 0:
                raise CorruptRecordException(f"Invalid negative header key size {h_key_len}")
            h_key = bytes(buffer[pos : pos + h_key_len]).decode("utf-8", "surrogateescape")  # the one change
            h_value, pos = _nullable_bytes(buffer, pos + h_key_len)
            headers.append((h_key, h_value))
        if pos - start_pos != length:
            raise CorruptRecordException(
                f"Invalid record size: expected to read {length} bytes in record payload, but instead read "
                f"{pos - start_pos}"
            )
        self._pos = pos
        return _DefaultRecordPy(self.base_offset + offset_delta, timestamp, self.timestamp_type, key, value, headers)


def _nullable_bytes(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(buffer, pos)
    if size < 0:
        return None, pos
    return bytes(buffer[pos : pos + size]), pos + size


class RecordsKeepingBytes:
    """aiokafka's MemoryRecords (the compiled reader) that also keeps the bytes of the batch it handed out last."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._records = MemoryRecords(data)
        self._pos = 0
        self.last_batch = memoryview(b"")
        self.last_batch_reread = False

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        if batch is not None:
            (length,) = _LENGTH.unpack_from(self._data, self._pos + _LENGTH_AT)
            end = self._pos + _LOG_OVERHEAD + length
            self.last_batch, self._pos, self.last_batch_reread = memoryview(self._data)[self._pos : end], end, False
        return batch


_aiokafka_next: Callable[[Any], Any] = fetcher.PartitionRecords.__next__


def _next_record(part: Any) -> Any:
    """PartitionRecords.__next__: aiokafka's, re-reading a batch once if a header name in it is not UTF-8."""
    while True:
        try:
            return _aiokafka_next(part)
        except UnicodeDecodeError:
            records = part._records
            if not isinstance(records, RecordsKeepingBytes) or records.last_batch_reread:
                raise  # not a batch this module can re-read, or re-reading did not help (a deserializer's error)
            if records.last_batch[_MAGIC_AT] < 2:
                raise  # formats before headers existed: not a header name
            batch = TolerantRecordBatch(records.last_batch)
            if batch.is_control_batch:
                raise  # aiokafka reads its marker, not records: leave it to aiokafka
            records.last_batch_reread = True
            part._records_iterator = _reread_then_go_on(part, batch)


def _reread_then_go_on(part: Any, batch: TolerantRecordBatch) -> Iterator[Any]:
    """The failed batch's records from the one it failed at, then aiokafka's own iteration of the next batches.

    The batch was checked (CRC, aborted transaction, control batch) before aiokafka began iterating it.
    """
    for record in batch:
        if record.offset < part.next_fetch_offset:
            continue  # handed out before the batch failed
        consumer_record = part._consumer_record(part._tp, record)
        part.next_fetch_offset = record.offset + 1
        yield consumer_record
    part.next_fetch_offset = batch.next_offset
    yield from part._unpack_records()


def install() -> None:
    """Make every aiokafka consumer of this process tolerate header names that are not UTF-8 (idempotent)."""
    if fetcher.MemoryRecords is RecordsKeepingBytes:
        return
    fetcher.MemoryRecords = RecordsKeepingBytes
    fetcher.PartitionRecords.__next__ = _next_record
