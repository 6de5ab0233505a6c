#!/usr/bin/env python3
"""Validates events against the schema files: each line of the input (a file, or - for stdin) is an envelope
{eventId, subject, tenantId, partitionKey, occurredAt, schemaUri, payload}. The envelope must fit
schemas://evalium/envelope/v1, its subject must name its schemaUri, a payload's tenantId must be the
envelope's, and the payload must fit the schema whose $id is its schemaUri (date-time formats checked).

    validate_events.py SCHEMAS_DIR [FILE|-]
"""
import json
import pathlib
import sys

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource


def load(schemas_dir: pathlib.Path) -> Registry:
    resources = []
    for path in sorted(schemas_dir.rglob("*.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def main() -> int:
    schemas_dir = pathlib.Path(sys.argv[1])
    source = sys.stdin if len(sys.argv) < 3 or sys.argv[2] == "-" else open(sys.argv[2])
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        print("date-time cannot be checked: install rfc3339-validator", file=sys.stderr)
        return 2
    registry = load(schemas_dir)

    def validator(uri: str) -> Draft202012Validator:
        return Draft202012Validator(registry.contents(uri), registry=registry, format_checker=checker)

    envelope_validator = validator("schemas://evalium/envelope/v1")
    valid = invalid = 0
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        event = json.loads(line)
        problems = [f"envelope {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in envelope_validator.iter_errors(event)]
        subject, uri = event.get("subject", ""), event.get("schemaUri", "")
        if uri != "schemas://" + subject.replace(".", "/"):
            problems.append(f"subject {subject} does not name schemaUri {uri}")
        payload = event.get("payload", {})
        if isinstance(payload, dict) and "tenantId" in payload and payload["tenantId"] != event.get("tenantId"):
            problems.append("the payload's tenantId is not the envelope's")
        try:
            problems += [f"payload {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator(uri).iter_errors(payload)]
        except Exception as error:  # an unknown schemaUri
            problems.append(f"no schema {uri}: {error}")
        if problems:
            invalid += 1
            for problem in problems:
                print(f"line {number} {event.get('eventId')} {subject}: {problem}")
        else:
            valid += 1
    print(f"{valid} events valid" + (f", {invalid} invalid" if invalid else ""))
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
