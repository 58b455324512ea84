"""Structured logs (structlog): JSON lines carrying claim_id and correlation_id when bound."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "INFO", fmt: str = "json", service: str | None = None) -> None:
    """Route structlog and stdlib logging (FastStream, aiokafka) through one renderer."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
        foreign_pre_chain=shared_processors,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-message framework logs would drown the business ones at thousands of events/s.
    for noisy in ("aiokafka", "faststream", "faststream.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # The broker logs through "jkn.broker" (outside FastStream's own coloured "faststream" tree):
    # partition assignments (rebalances) are worth an operator's INFO; per-batch lines are DEBUG.
    logging.getLogger("jkn.broker").setLevel(root.level)


def adopt_framework_loggers() -> None:
    """uvicorn's loggers keep handlers of their own: route them through ours instead."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("uvicorn"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
