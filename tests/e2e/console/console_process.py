"""The console as its own process, on a test's lane: `python -m tests.e2e.console.console_process`.

With the service's usual environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC_PREFIX,
CONSOLE_SECRETS_KEY, SERVICE_HTTP_PORT, ...) and LANE_SUFFIX: the schema and consumer groups are the
lane's (`console_<suffix>`), everything else is `python -m services.console.app`.
"""

from __future__ import annotations

import os
from dataclasses import replace

from services.console.service import SPEC
from shared.runtime import serve

if __name__ == "__main__":
    suffix = os.environ["LANE_SUFFIX"]
    # The other services run on the lane too (schemas `<schema>_<suffix>`, groups `<group>-<suffix>`): the
    # operations page looks at the services the deployment runs, so it is shown the lane's.
    import shared.services

    lane = [
        replace(s, schema=f"{s.schema}_{suffix}", consumes=[replace(c, name=f"{c.name}-{suffix}") for c in s.consumes])
        for s in shared.services.SERVICES()
        if s.name in os.environ.get("LANE_SERVICES", s.name).split(",")  # the ones the test runs, else all
    ]
    shared.services.SERVICES = lambda: lane
    serve(replace(SPEC, schema=f"{SPEC.schema}_{suffix}",
                  consumes=[replace(c, name=f"{c.name}-{suffix}") for c in SPEC.consumes]))  # fmt: skip
