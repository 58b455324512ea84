"""Versioned tariff tables: one CSV and one JSON manifest per version."""
