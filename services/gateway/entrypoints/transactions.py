"""One HTTP request, one transaction: the use case's writes, its outbox rows and its idempotent answer.

The answer is returned only after the commit, so a 2xx means the claim and its event are durable (the relay
publishes the event). A refused request (the use case raised) writes and publishes nothing but its answer
under the Idempotency-Key, if one was sent: a retry with that key gets the first answer, whatever it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from services.gateway.adapters.repository import StoredAnswer
from services.gateway.adapters.unit_of_work import GatewayUnitOfWork
from services.gateway.domain.errors import EklaimError
from services.gateway.domain.replies import Problem, Reply
from services.gateway.metrics import RETRIES
from shared.db import Pool
from shared.outbox import Tx

Work = Callable[[GatewayUnitOfWork], Awaitable[Reply]]
Refusal = Callable[[Exception], Reply]


def request_hash(method: str, path: str, body: bytes) -> str:
    """What an Idempotency-Key is bound to: the same key with another request is refused."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


async def in_transaction(
    pool: Pool, schema: str, max_output_bytes: int, work: Work, refusal: Refusal,
    *, cons_id: str, idempotency_key: str | None, request: str, reused: Reply,
) -> Reply:  # fmt: skip
    """Run `work` in one transaction; with a key, answer a retry from the table (and store a first answer).

    `refusal` turns the use case's EklaimError / Problem into the endpoint's reply; `reused` is the answer
    to a key sent again with a different request.
    """
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, schema, max_output_bytes)
        uow = GatewayUnitOfWork(tx)
        if idempotency_key is not None:
            await uow.answers.lock(cons_id, idempotency_key)
            stored = await uow.answers.find(cons_id, idempotency_key)
            if stored is not None:
                if stored.request_hash != request:
                    return reused
                RETRIES.labels("idempotency-key").inc()
                return Reply(stored.status, stored.body, stored.content_type)
        try:
            reply = await work(uow)
        except (EklaimError, Problem) as exc:
            reply = refusal(exc)
            tx.pending.clear()  # nothing of a refused request is published ...
            uow = GatewayUnitOfWork(tx)  # ... nor written
        if idempotency_key is not None:
            uow.answers.save(cons_id, idempotency_key, StoredAnswer(request, reply.status, reply.body,
                                                                     reply.content_type))  # fmt: skip
        await uow.flush()
        await tx.flush()
    return reply
