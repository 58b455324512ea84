"""`claimsctl simulate`: a month of hospital claims through the whole system, then the scorecard.

The simulator runs its own copy of the four services in this process, isolated from anything
else on the same broker and database by a topic prefix and its own schemas, on a clock it
moves day by day (`--speed` caps simulated seconds per real second; 0 runs as fast as the
system answers). It plays the hospitals, the membership system, reviewers, the dispute team
and finance, then checks every claim reached the outcome planned for it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from deploy.local import create_topics
from services.simulator.harness import Outcome, simulate
from services.simulator.scenario import plan_month
from shared.logs import configure_logging
from shared.runtime import ServiceSpec
from shared.settings import BrokerSettings, DatabaseSettings, Settings, get_settings
from shared.topics import all_topics

console = Console()


def isolated(run: str) -> tuple[str, object]:
    """A topic prefix and a spec rewriter giving this run its own topics, schemas and consumer groups."""

    def isolate(spec: ServiceSpec) -> ServiceSpec:
        return replace(
            spec,
            schema=f"sim_{run}_{spec.schema}",
            consumes=[replace(c, name=f"sim-{run}-{c.name}") for c in spec.consumes],
        )

    return f"sim-{run}.", isolate


def simulate_command(
    hospitals: Annotated[int, typer.Option(min=1, help="Hospitals submitting")] = 20,
    claims: Annotated[int, typer.Option(min=10, help="Claims over the month")] = 5000,
    days: Annotated[int, typer.Option(min=5, help="Days of submissions")] = 30,
    speed: Annotated[float, typer.Option(min=0, help="Most simulated seconds per real second (0: no cap)")] = 86400,
    seed: Annotated[int, typer.Option(help="Same seed, same month")] = 2026,
) -> None:
    """Simulate a month of claims end to end and print what happened to them."""
    from shared.cli import endpoints

    bootstrap, dsn = endpoints()
    configure_logging("WARNING", "console")  # the scorecard is the output; services speak up only when wrong
    run = uuid.uuid4().hex[:6]
    prefix, isolate = isolated(run)
    base = get_settings()
    settings = Settings(
        broker=BrokerSettings(**{**base.broker.model_dump(), "bootstrap_servers": bootstrap, "topic_prefix": prefix}),
        database=DatabaseSettings(**{**base.database.model_dump(), "database_url": dsn}),
        policy=base.policy,
        service=base.service,
    )
    plan = plan_month(hospitals, claims, days, seed=seed)
    console.print(f"simulating {len(plan.claims)} claims from {hospitals} hospitals over {days} days (run {run})")
    asyncio.run(create_topics(bootstrap, all_topics(), prefix=prefix))
    started = time.monotonic()
    outcome = asyncio.run(simulate(plan, settings, isolate, speed=speed))
    print_summary(outcome, time.monotonic() - started)
    if outcome.report.problems:
        raise typer.Exit(1)


def print_summary(outcome: Outcome, seconds: float) -> None:
    """The month's scorecard."""
    r = outcome.report
    table = Table("outcome", "claims", title="Claims by final outcome")
    for state, n in sorted(r.outcomes.items()):
        table.add_row(state, str(n))
    console.print(table)
    money = Table("payments on time", "paid late", "deadline compliance", "paid (Rp)", "penalties (Rp)")
    money.add_row(str(r.paid_on_time), str(r.paid_late), f"{r.compliance:.1%}", f"{r.paid_total:,}", f"{r.penalties:,}")
    console.print(money)
    letters = ", ".join(f"{k}: {v}" for k, v in sorted(outcome.dead_letters.items())) or "none"
    console.print(f"dead letters: {letters} (junk sent on purpose: {sum(outcome.junk_sent.values())})")
    if r.problems:
        console.print(f"[red]{len(r.problems)} claim(s) did not end as planned:[/red]")
        for p in r.problems[:50]:
            console.print(f"  {p}")
    else:
        console.print(f"[green]every claim reached its planned outcome[/green] ({seconds:.0f} s)")


def register(root: typer.Typer) -> None:
    """Mount `claimsctl simulate`."""
    root.command("simulate")(simulate_command)
