"""Is the event contract still compatible with the last released one? (`make contract-check`)

`python -m shared.contract_check` compares the committed schemas (docs/events/) and what the models
render now (a forgotten `make schemas` is caught too) with the released baseline, and fails naming the
event, the field and the rule for every change a consumer upgraded first could not take: the new schema
must accept every document the released one accepted, unless that event's `schema_version` was bumped
(and its consumers still accept the released version, `x-accepted-versions`). Policy and rollout:
docs/contract-policy.md.

The baseline is the committed snapshot docs/events/released/ (a CI clone may carry no tags); its RELEASE
file names the annotated git tag of the release, and when that tag is in the clone the snapshot must
equal the tag's docs/events/. `python -m shared.contract_check release contract-vN` writes a new snapshot.

The comparison is written here for the subset of JSON Schema that pydantic renders for our models
(objects, $ref/$defs, anyOf, const/enum, string/number/array bounds, pattern, format, default). A keyword
outside that subset fails the check ("unchecked-keyword") rather than pass unexamined.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.schemas import SCHEMA_DIR, render_schemas

ROOT = Path(__file__).resolve().parents[1]
RELEASED = Path("released")  # under the schema directory
RELEASE_FILE = "RELEASE"  # in the snapshot: the tag of the release it records
SUFFIX = ".schema.json"

# Read for humans only, or checked on their own below (`x-topic`, `x-accepted-versions`, `$id`).
IGNORED = frozenset({"title", "description", "examples", "$id", "x-topic", "x-accepted-versions", "$defs"})
# An upper bound may not shrink (or appear); a lower bound may not grow (or appear).
UPPER = ("maxLength", "maxItems", "maximum", "exclusiveMaximum")
LOWER = ("minLength", "minItems", "minimum", "exclusiveMinimum")
HANDLED = frozenset(
    {*IGNORED, *UPPER, *LOWER, "type", "properties", "required", "additionalProperties", "items", "anyOf", "$ref",
     "const", "enum", "pattern", "format", "default"}
)  # fmt: skip
WIDER_TYPE = {("integer", "number")}  # (released, now): every integer is a number


@dataclass(frozen=True, order=True)
class Breach:
    """One incompatible change: which event, which field (dotted, `[]` for list items), which rule."""

    event: str
    field: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.event}.{self.field}: {self.rule}: {self.detail}"


class _Walk:
    """Compares one event's released schema with its current one, collecting breaches."""

    def __init__(self, event: str, released: Mapping[str, Any], current: Mapping[str, Any]) -> None:
        self.event = event
        self.roots = (released, current)
        self.breaches: list[Breach] = []

    def breach(self, path: str, rule: str, detail: str) -> None:
        self.breaches.append(Breach(self.event, path or "(event)", rule, detail))

    def resolve(self, schema: Mapping[str, Any], side: int) -> Mapping[str, Any]:
        for _ in range(32):  # pydantic's refs are one level deep; the bound only stops a cycle
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                return schema
            if not ref.startswith("#/$defs/"):
                raise ValueError(f"{self.event}: cannot follow $ref {ref!r}")
            extra = {k: v for k, v in schema.items() if k != "$ref"}  # pydantic puts description/default beside it
            schema = {**self.roots[side]["$defs"][ref.removeprefix("#/$defs/")], **extra}
        raise ValueError(f"{self.event}: $ref cycle")

    def compare(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old, new = self.resolve(old, 0), self.resolve(new, 1)
        unknown = sorted(k for k in {*old, *new} - HANDLED if old.get(k) != new.get(k))
        for key in unknown:
            self.breach(path, "unchecked-keyword", f"{key!r} changed and this check cannot judge it")
        if "anyOf" in old or "anyOf" in new:
            self.branches(old, new, path)
            return
        self.scalar(old, new, path)
        if "properties" in old or "properties" in new:
            self.object(old, new, path)
        if "items" in old and "items" in new:
            self.compare(old["items"], new["items"], f"{path}[]")
        elif "items" in new:
            self.breach(f"{path}[]", "tightened-bound", "list items are constrained now")

    def branches(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        """Every released alternative (e.g. a value or null) must still be accepted by a current one."""
        old_opts = [self.resolve(o, 0) for o in old.get("anyOf", [old])]
        new_opts = [self.resolve(n, 1) for n in new.get("anyOf", [new])]
        outer_old = {k: v for k, v in old.items() if k != "anyOf"}
        outer_new = {k: v for k, v in new.items() if k != "anyOf"}
        self.default(outer_old, outer_new, path)
        for opt in old_opts:
            kind = _kind(opt)
            match = [n for n in new_opts if _kind(n) == kind or (kind, _kind(n)) in WIDER_TYPE]
            if not match:
                self.breach(path, "type-changed", f"{kind} is no longer accepted (now {_kinds(new_opts)})")
                continue
            self.compare(_without_default(opt), _without_default(match[0]), path)  # the default is the field's

    def scalar(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_type, new_type = old.get("type"), new.get("type")
        if new_type is not None and old_type != new_type and (old_type, new_type) not in WIDER_TYPE:
            self.breach(path, "type-changed", f"{old_type or 'any'} → {new_type}")
            return  # the bounds of another type say nothing more
        self.values(old, new, path)
        for key in UPPER:
            if key in new and (key not in old or new[key] < old[key]):
                self.breach(path, "tightened-bound", f"{key} {old.get(key, 'none')} → {new[key]}")
        for key in LOWER:
            if key in new and (key not in old or new[key] > old[key]):
                self.breach(path, "tightened-bound", f"{key} {old.get(key, 'none')} → {new[key]}")
        if "pattern" in new and new["pattern"] != old.get("pattern"):
            # Whether one regular expression accepts all another does is not decided here: any change breaks.
            self.breach(path, "changed-pattern", f"{old.get('pattern', 'none')!r} → {new['pattern']!r}")
        if "format" in new and new["format"] != old.get("format"):
            self.breach(path, "changed-format", f"{old.get('format', 'none')} → {new['format']}")
        self.default(old, new, path)

    def values(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        """A value set (const or enum) may grow, never lose a value or appear where any value was taken."""
        allowed_new = _value_set(new)
        if allowed_new is None:
            return
        allowed_old = _value_set(old)
        if allowed_old is None:
            self.breach(path, "narrowed-enum", f"any value → only {_shown(allowed_new)}")
            return
        lost = [v for v in allowed_old if v not in allowed_new]
        if lost:
            self.breach(path, "narrowed-enum", f"no longer accepts {_shown(lost)}")

    def default(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        # A document that leaves the field out would mean something else.
        if "default" in old and old.get("default") != new.get("default"):
            self.breach(path, "changed-default", f"{old['default']!r} → {new.get('default', 'required')!r}")

    def object(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        required_old, required_new = set(old.get("required", ())), set(new.get("required", ()))
        if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
            self.breach(path, "tightened-bound", "unknown fields are refused now")
        for name in old_props:
            here = f"{path}.{name}" if path else name
            if name not in new_props:
                # Consumers refuse unknown fields: a producer still writing it would be refused.
                self.breach(here, "removed-field", "a released field is gone (rename = remove + add)")
                continue
            old_prop, new_prop = old_props[name], new_props[name]
            if name in required_new and name not in required_old:
                self.breach(here, "newly-required", "an optional field became required")
                old_prop, new_prop = _without_default(old_prop), _without_default(new_prop)  # the same breach
            self.compare(old_prop, new_prop, here)
        for name in new_props:
            if name not in old_props and name in required_new:
                here = f"{path}.{name}" if path else name
                self.breach(here, "newly-required", "a new field is required (add it optional)")


def _without_default(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "default"}


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    return kind if isinstance(kind, str) else "any"


def _kinds(options: Sequence[Mapping[str, Any]]) -> str:
    return " | ".join(_kind(o) for o in options)


def _value_set(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _shown(values: Sequence[Any]) -> str:
    return ", ".join(json.dumps(v) for v in values)


def _version(schema: Mapping[str, Any]) -> int:
    const = schema.get("properties", {}).get("schema_version", {}).get("const", 1)
    return const if isinstance(const, int) else 1


def compare_event(event: str, released: Mapping[str, Any], current: Mapping[str, Any]) -> list[Breach]:
    """Why `current` cannot replace `released` for consumers upgraded first; empty when it can."""
    old_version, new_version = _version(released), _version(current)
    if new_version < old_version:
        return [Breach(event, "schema_version", "version-lowered", f"{old_version} → {new_version}")]
    if new_version > old_version:
        accepted = current.get("x-accepted-versions", [new_version])
        if old_version not in accepted:
            return [
                Breach(event, "schema_version", "bump-without-upcaster",
                       f"{old_version} → {new_version}, but consumers no longer accept {old_version}: declare an "
                       f"upcaster from {old_version} until it is retired")
            ]  # fmt: skip
        return []  # a new version: its consumers take the released one through the upcaster
    breaches: list[Breach] = []
    if released.get("x-topic") != current.get("x-topic"):
        breaches.append(
            Breach(event, "(event)", "moved-topic", f"{released.get('x-topic')} → {current.get('x-topic')}")
        )
    walk = _Walk(event, released, current)
    walk.compare(released, current, "")
    return sorted({*breaches, *walk.breaches})


def compare_sets(released: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]) -> list[Breach]:
    """Every breach between two sets of schemas by event name; a new event type is fine."""
    breaches: list[Breach] = []
    for event, schema in sorted(released.items()):
        if event not in current:
            breaches.append(Breach(event, "(event)", "removed-event", "a released event type is gone"))
        else:
            breaches.extend(compare_event(event, schema, current[event]))
    return breaches


def read_dir(directory: Path) -> dict[str, str]:
    """Event name → schema text of every `*.schema.json` directly in `directory`."""
    return {p.name.removesuffix(SUFFIX): p.read_text() for p in sorted(directory.glob(f"*{SUFFIX}"))}


def _loaded(texts: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in texts.items()}


def tag_problems(root: Path, tag: str, snapshot: Mapping[str, str], schema_dir: Path = SCHEMA_DIR) -> list[str] | None:
    """Where the snapshot differs from the tag's docs/events/; None when the tag is not in this clone."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)

    try:
        if git("rev-parse", "-q", "--verify", f"refs/tags/{tag}").returncode != 0:
            return None
    except FileNotFoundError:
        return None  # no git at all: the snapshot alone
    listed = git("ls-tree", "--name-only", f"{tag}^{{commit}}", f"{schema_dir.as_posix()}/").stdout.split()
    at_tag = {Path(p).name.removesuffix(SUFFIX) for p in listed if p.endswith(SUFFIX)}
    problems = [f"{name}: in the snapshot, not in {tag}" for name in sorted(set(snapshot) - at_tag)]
    problems += [f"{name}: in {tag}, not in the snapshot" for name in sorted(at_tag - set(snapshot))]
    for name in sorted(at_tag & set(snapshot)):
        text = git("show", f"{tag}^{{commit}}:{schema_dir.as_posix()}/{name}{SUFFIX}").stdout
        if text != snapshot[name]:
            problems.append(f"{name}: the snapshot differs from {tag}")
    return problems


def check(root: Path = ROOT, schema_dir: Path = SCHEMA_DIR) -> tuple[list[str], list[str]]:
    """(failures, notes) of the whole check on the tree at `root`."""
    released_dir = root / schema_dir / RELEASED
    snapshot = read_dir(released_dir)
    if not snapshot:
        return [f"no released schemas in {schema_dir / RELEASED}: run `python -m shared.contract_check release`"], []
    if not (released_dir / RELEASE_FILE).is_file():
        return [f"{schema_dir / RELEASED / RELEASE_FILE} is missing: it names the release's git tag"], []
    tag = (released_dir / RELEASE_FILE).read_text().strip()
    failures: list[str] = []
    problems = tag_problems(root, tag, snapshot, schema_dir)
    if problems is None:
        notes = [f"tag {tag} is not in this clone: the committed snapshot is the baseline"]
    else:
        notes = [f"snapshot verified against tag {tag}"] if not problems else []
        failures += [f"{schema_dir / RELEASED}/ is not the release it names: {p}" for p in problems]
    committed = read_dir(root / schema_dir)
    rendered = {name.removesuffix(SUFFIX): text for name, text in render_schemas().items()}
    if committed != rendered:
        stale = sorted(n for n in {*committed, *rendered} if committed.get(n) != rendered.get(n))
        failures.append(f"{schema_dir}/ is not what the models render ({', '.join(stale)}): run `make schemas`")
    baseline = _loaded(snapshot)
    seen: set[Breach] = set()
    for source, texts in ((f"{schema_dir}/", committed), ("the models", rendered)):
        for breach in compare_sets(baseline, _loaded(texts)):
            if breach not in seen:
                seen.add(breach)
                failures.append(f"{breach} ({source}, against {tag})")
    notes.append(f"{len(rendered)} event types checked against {tag} ({len(baseline)} released)")
    return failures, notes


def release(tag: str, root: Path = ROOT, schema_dir: Path = SCHEMA_DIR) -> Path:
    """Record what the models render now as the released baseline named `tag`; commit it, then tag."""
    released_dir = root / schema_dir / RELEASED
    released_dir.mkdir(parents=True, exist_ok=True)
    for old in released_dir.glob(f"*{SUFFIX}"):
        old.unlink()
    for name, text in render_schemas().items():
        (released_dir / name).write_text(text)
    (released_dir / RELEASE_FILE).write_text(tag + "\n")
    return released_dir


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["release"]:
        if len(argv) != 2:
            print("usage: python -m shared.contract_check release contract-vN", file=sys.stderr)
            return 2
        first = not read_dir(ROOT / SCHEMA_DIR / RELEASED)
        failures = [] if first else check()[0]
        breaches = [f for f in failures if "is not the release it names" not in f]
        if breaches:
            print("not released: the contract check fails first:", *breaches, sep="\n  ", file=sys.stderr)
            return 1
        written = release(argv[1])
        print(f"wrote {written}; commit it (with docs/events/), then: git tag -a {argv[1]} -m '...' <that commit>")
        return 0
    failures, notes = check()
    for note in notes:
        print(f"contract-check: {note}")
    if failures:
        print("contract-check: incompatible with the released contract (docs/contract-policy.md):", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
