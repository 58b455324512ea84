"""The grouper's data tables (CSV/JSON); a package so they ship with the wheel."""
