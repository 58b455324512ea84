"""The README documents every setting the code reads."""

from __future__ import annotations

from pathlib import Path

from shared.settings import env_table

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_environment_variable_is_in_the_readme_table() -> None:
    missing = [name for name, _, _ in env_table() if f"| `{name}` |" not in README]
    assert not missing, f"README settings table lacks {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:2000]
    assert "make run" in head
    assert "make test" in head


def test_readme_rule_tables_and_settings_match_the_code() -> None:
    from shared.docs import render

    assert render(README) == README, "README is stale: run `python -m shared.docs`"
