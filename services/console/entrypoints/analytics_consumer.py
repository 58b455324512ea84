"""The analytics read model's consumer: which topics feed it, and its application (nothing loaded here).

Group `console-analytics`. The events of one claim arrive on several topics, so in no fixed order: the
projection folds them order-independently (services/console/domain/analytics.py).
"""

from __future__ import annotations

from services.console.adapters.analytics_read_model import AnalyticsUnitOfWork
from services.console.application.analytics import application
from shared import topics
from shared.application import Application
from shared.calendar import calendar_from_settings
from shared.events import (
    CapitationPaid,
    ClaimDisputeResolved,
    ClaimGrouped,
    ClaimPaid,
    ClaimPended,
    ClaimRejected,
    ClaimSubmitted,
    ClaimVerified,
    PaymentOverdue,
)
from shared.runtime import Consumes, ServiceContext


def consumer(ctx: ServiceContext) -> Application[AnalyticsUnitOfWork]:
    policy = ctx.settings.policy
    return application(calendar_from_settings(policy), policy)


ANALYTICS_CONSUMES = Consumes(
    "console-analytics",
    {
        topics.CLAIMS_SUBMITTED: (ClaimSubmitted,),
        topics.CLAIMS_GROUPED: (ClaimGrouped,),
        topics.CLAIMS_PENDED: (ClaimPended,),
        topics.CLAIMS_REJECTED: (ClaimRejected,),
        topics.CLAIMS_VERIFIED: (ClaimVerified,),
        topics.CLAIMS_DISPUTE_RESOLVED: (ClaimDisputeResolved,),
        topics.CLAIMS_PAID: (ClaimPaid,),
        topics.PAYMENTS_OVERDUE: (PaymentOverdue,),
        topics.CAPITATION_PAID: (CapitationPaid,),
    },
    consumer,
)
