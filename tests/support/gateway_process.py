"""One gateway instance as its own process, on a test's lane, for the kill-and-restart test.

`python -m tests.support.gateway_process` with the service's usual environment (DATABASE_URL,
KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC_PREFIX, GATEWAY_SECRETS_KEY, SERVICE_HTTP_PORT) and LANE_SUFFIX: the
schema and consumer group are the lane's (`gateway_<suffix>`), everything else is `python -m
services.gateway.app`.
"""

from __future__ import annotations

import os
from dataclasses import replace

from services.gateway.service import SPEC
from shared.runtime import serve

if __name__ == "__main__":
    suffix = os.environ["LANE_SUFFIX"]
    serve(replace(SPEC, schema=f"{SPEC.schema}_{suffix}",
                  consumes=[replace(c, name=f"{c.name}-{suffix}") for c in SPEC.consumes]))  # fmt: skip
