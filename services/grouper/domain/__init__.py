"""The grouper's pure domain: code validation, INA-CBG grouping and tariffs over data tables."""

from services.grouper.domain.engine import GROUPER_VERSION, Grouped, GroupingOutcome, Rejected, group_claim
from services.grouper.domain.grouping import ERROR_AGE_CONFLICT, ERROR_NO_CMG, ERROR_SEX_CONFLICT
from services.grouper.domain.tables import GrouperTables, load_grouper_tables
from services.grouper.domain.tariff_import import ImportReport, RowError, import_tariff_csv
from services.grouper.domain.tariffs import (
    NoTariffTableError,
    TariffCatalogue,
    TariffTable,
    load_tariff_tables,
)

__all__ = [
    "ERROR_AGE_CONFLICT",
    "ERROR_NO_CMG",
    "ERROR_SEX_CONFLICT",
    "GROUPER_VERSION",
    "Grouped",
    "GrouperTables",
    "GroupingOutcome",
    "ImportReport",
    "NoTariffTableError",
    "Rejected",
    "RowError",
    "TariffCatalogue",
    "TariffTable",
    "group_claim",
    "import_tariff_csv",
    "load_grouper_tables",
    "load_tariff_tables",
]
