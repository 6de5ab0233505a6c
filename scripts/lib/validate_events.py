#!/usr/bin/env python3
"""Validates events against the schema files: each line of the input (a file, or - for stdin) is an envelope
{eventId, subject, tenantId, partitionKey, occurredAt, schemaUri, payload}. The envelope must fit
schemas://evalium/envelope/v1, its subject must name its schemaUri, a payload's tenantId must be the
envelope's, and the payload must fit the schema whose $id is its schemaUri (date-time formats checked).
Prints one line per invalid event, then how many were valid; exits 1 if any was not.

    validate_events.py SCHEMAS_DIR [FILE|-]
"""
import functools
import json
import pathlib
import sys

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

ENVELOPE = "schemas://evalium/envelope/v1"


def load(schemas_dir: pathlib.Path) -> Registry:
    """Every schema under the folder by its $id, so a $ref to another file (common/ai_provenance) resolves."""
    resources = []
    for path in sorted(schemas_dir.rglob("*.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def pointer(error) -> str:
    return "/" + "/".join(map(str, error.absolute_path))


def problems(event, validator) -> list[str]:
    """What is wrong with one decoded line; empty when it is a valid event."""
    found = [f"envelope {pointer(e)}: {e.message}" for e in validator(ENVELOPE).iter_errors(event)]
    if not isinstance(event, dict):
        return found
    subject, uri, payload = event.get("subject", ""), event.get("schemaUri", ""), event.get("payload")
    if uri != "schemas://" + str(subject).replace(".", "/"):
        found.append(f"subject {subject} does not name schemaUri {uri}")
    if isinstance(payload, dict) and "tenantId" in payload and payload["tenantId"] != event.get("tenantId"):
        found.append("payload /tenantId: not the envelope's tenantId")
    try:
        found += [f"payload {pointer(e)}: {e.message}" for e in validator(uri).iter_errors(payload)]
    except NoSuchResource:
        found.append(f"no schema has the $id {uri}")
    return found


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    checker = FormatChecker()
    # jsonschema registers date-time only when rfc3339-validator is importable, and skips it silently otherwise.
    if "date-time" not in checker.checkers:
        print("date-time cannot be checked: install rfc3339-validator", file=sys.stderr)
        return 2
    registry = load(pathlib.Path(sys.argv[1]))

    @functools.cache
    def validator(uri: str) -> Draft202012Validator:
        return Draft202012Validator(registry.contents(uri), registry=registry, format_checker=checker)

    source = sys.stdin if len(sys.argv) < 3 or sys.argv[2] == "-" else open(sys.argv[2])
    valid = invalid = 0
    with source:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                found = problems(event, validator)
            except json.JSONDecodeError as error:
                event, found = None, [f"not JSON: {error}"]
            if found:
                invalid += 1
                label = f" {event.get('eventId')} {event.get('subject')}" if isinstance(event, dict) else ""
                print(f"line {number}{label}: " + "; ".join(found))
            else:
                valid += 1
    print(f"{valid} events valid" + (f", {invalid} invalid" if invalid else ""))
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
