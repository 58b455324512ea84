"""Run a simulated month end to end: the four services in-process on one clock, the plan, the checks."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from services.grouper.domain.tables import load_grouper_tables
from services.payments.settings import get_payments_settings
from services.simulator.driver import SIMULATION_STAFF, Simulation
from services.simulator.expectations import Report, check
from services.simulator.scenario import Plan
from shared.calendar import get_calendar
from shared.clock import FixedClock, set_clock
from shared.operators import OperatorSigner, generate_registry
from shared.runtime import ServiceRuntime, ServiceSpec
from shared.services import SERVICES
from shared.settings import OperatorSettings, Settings
from shared.topics import dlq_topic


@dataclass
class Outcome:
    report: Report
    dead_letters: dict[str, int]
    junk_sent: dict[str, int]


def simulation_spec(spec: ServiceSpec) -> ServiceSpec:
    """The spec without the payment scheduler: in a simulation, finance decides each run and its funds."""
    return replace(spec, background=[b for b in spec.background if getattr(b, "__name__", "") != "scheduler"])


@contextlib.asynccontextmanager
async def services(settings: Settings, isolate: object = None) -> AsyncIterator[dict[str, ServiceRuntime]]:
    """Every service, started in pipeline order and stopped in reverse."""
    runtimes: dict[str, ServiceRuntime] = {}
    try:
        for spec in SERVICES():
            spec = simulation_spec(spec)
            if isolate is not None:
                spec = isolate(spec)  # type: ignore[operator]
            runtime = ServiceRuntime(spec, settings)
            await runtime.start()
            await runtime.broker.start()
            runtimes[spec.name] = runtime
        yield runtimes
    finally:
        for runtime in reversed(list(runtimes.values())):
            with contextlib.suppress(Exception):
                await runtime.broker.stop()
                await runtime.stop()


@contextlib.contextmanager
def simulation_operators(settings: Settings) -> Iterator[tuple[Settings, dict[str, OperatorSigner]]]:
    """The simulation's own staff: fresh keys, a registry its in-process services trust, gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="jkn-sim-operators-") as folder:
        path = Path(folder) / "operators.toml"
        signers = generate_registry(
            path, SIMULATION_STAFF, "simulation", "Generated for one simulation", datetime(2000, 1, 1, tzinfo=UTC)
        )
        yield settings.model_copy(update={"operators": OperatorSettings(registry_file=path)}), signers


async def simulate(plan: Plan, settings: Settings, isolate: object = None, *, speed: float = 0.0) -> Outcome:
    """Play `plan` on every service and check the result."""
    clock = FixedClock(datetime.combine(plan.start, datetime.min.time(), UTC))
    set_clock(clock)
    try:
        with simulation_operators(settings) as (settings, staff):
            return await _play(plan, settings, isolate, clock, staff, speed)
    finally:
        set_clock(None)


async def _play(
    plan: Plan, settings: Settings, isolate: object, clock: FixedClock, staff: dict[str, OperatorSigner], speed: float
) -> Outcome:
    """Run the services, play the plan, read what happened."""
    async with services(settings, isolate) as runtimes:
        sim = Simulation(
            plan, runtimes, clock, settings.broker.bootstrap_servers, settings.broker.topic_prefix,
            operators=staff, speed=speed,
        )  # fmt: skip
        try:
            await sim.run()
            states = await _verifier_states(runtimes["verifier"])
            letters = await _dead_letters(sim)
            events = dict(sim.observer.by_claim)
        finally:
            await sim.close()
    report = check(
        plan, events, states, load_grouper_tables(), get_calendar(), settings.policy,
        get_payments_settings().dispute_due_from_original,
    )  # fmt: skip
    return Outcome(report, letters, sim.junk_sent)


async def _verifier_states(runtime: ServiceRuntime) -> dict[str, str]:
    assert runtime.ctx is not None
    rows = await runtime.ctx.pool.fetch("SELECT claim_id, state FROM claims")
    return {r["claim_id"]: r["state"] for r in rows}


async def _dead_letters(sim: Simulation) -> dict[str, int]:
    """Records on every dead-letter topic (what the junk produced, and anything else that failed)."""
    from shared.kafka_read import read_topic
    from shared.topics import EVENT_TOPICS

    counts = {
        dlq_topic(t.name): len(await read_topic(sim.bootstrap, sim.prefix + dlq_topic(t.name))) for t in EVENT_TOPICS
    }
    return {k: v for k, v in counts.items() if v}
