"""README sections rendered from the code's own tables, so the documented rules are the enforced ones.

`python -m shared.docs` rewrites the marked sections of README.md; a test fails when they drift.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

README = Path("README.md")


def verifier_rules() -> str:
    """The verifier's rule table: code, outcome it forces, texts, source."""
    from services.verifier.domain import TRANSITION_RULES, VERIFICATION_RULES

    lines = ["| code | forces | Indonesian | English | source |", "|---|---|---|---|---|"]
    for r in VERIFICATION_RULES:
        lines.append(f"| `{r.code}` | {r.outcome} | {r.text_id} | {r.text_en} | {r.source} |")
    lines += ["", "Refused moves (answered with `claims.rejected` naming the rule):", ""]
    lines += ["| code | Indonesian | English |", "|---|---|---|"]
    for r in TRANSITION_RULES:
        lines.append(f"| `{r.code}` | {r.text_id} | {r.text_en} |")
    return "\n".join(lines)


def grouper_reasons() -> str:
    """Every reason the grouper can give, with its texts (`{value}` is filled from the claim)."""
    from services.grouper.domain.reasons import REASON_TEXTS

    lines = ["| code | Indonesian | English |", "|---|---|---|"]
    for code, (text_id, text_en) in REASON_TEXTS.items():
        lines.append(f"| `{code}` | {text_id} | {text_en} |")
    return "\n".join(lines)


def settings_table() -> str:
    """Every environment variable the code reads, with its default and meaning."""
    from shared.settings import env_table

    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {f'`{d}`' if d else ''} | {desc} |" for name, d, desc in env_table()]
    return "\n".join(lines)


SECTIONS: dict[str, Callable[[], str]] = {
    "verifier-rules": verifier_rules,
    "grouper-reasons": grouper_reasons,
    "settings": settings_table,
}


def render(text: str) -> str:
    """README text with every marked section replaced by its current rendering."""
    for name, make in SECTIONS.items():
        start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        body = start + make() + "\n" + end
        text = pattern.sub(lambda _match, body=body: body, text)  # type: ignore[misc]
    return text


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else README
    path.write_text(render(path.read_text()))
    print(f"rendered {', '.join(SECTIONS)} into {path}")
