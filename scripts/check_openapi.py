#!/usr/bin/env python3
"""Checks the API contract (openapi/evalium.yaml) on every test run. Run it with the test venv's python,
which has openapi-spec-validator:  .build/test-venv/bin/python scripts/check_openapi.py openapi/evalium.yaml

1. The document is valid OpenAPI 3.1 (openapi-spec-validator), and every example in it fits its schema.
2. Its `paths` keep the line layout the route-agreement test (Tests/EvaliumIntegrationTests/OpenAPITests.swift)
   reads: a path key alone on its line indented two spaces, an operation key indented four, nothing else at
   those indentations but path-level `parameters:`. The operations such a reader finds must be exactly the
   document's.
3. Every operation says who may call it (`x-evalium-principal`, matching its `security`); a capability it needs
   (`x-evalium-capability`) is one of the catalogue and named in its description; mutating operations of
   signed-in principals take `Idempotency-Key` (TUS operations retry by offset instead).
4. The localization contract of seed 001 §19.7:
   - `LocalizedText`, `LocalizedTextInput`, `LocalizedTextRead`, `LocaleReport` (with `LocaleFallback`) have
     exactly their canonical shape, `LocaleTag` is a string with a BCP-47 pattern, and the `Lang` parameter is
     `?lang=<LocaleTag>`;
   - no other schema, named or inline, declares `defaultLocale` or `locales`: one envelope, defined once;
   - every property anywhere whose name is an authored-text field name (AUTHORED_TEXT below) is a `$ref` to
     `LocalizedTextInput` in request bodies and parameters, `LocalizedTextRead` in responses, or
     `LocalizedText` in either, unless its schema says `x-evalium-plain-text: true`, an explicit, reviewable
     opt-out for text that is not authored content.
Each violation is printed with its JSON path; the exit status is 1 if there is any.
"""
import re
import sys

import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

AUTHORED_TEXT = {
    "title", "description", "prompt", "label", "instructions", "explanation", "feedback", "hint", "guidance",
    "placeholder", "stem", "rationale", "summary",
}
ENVELOPE_MEMBERS = {"defaultLocale", "locales"}
SCHEMAS = "#/components/schemas/"
ENVELOPE_HOME = "$.components.schemas.LocalizedText"
ALLOWED_REFS = {
    "request": {SCHEMAS + "LocalizedTextInput", SCHEMAS + "LocalizedText"},
    "response": {SCHEMAS + "LocalizedTextRead", SCHEMAS + "LocalizedText"},
    "unused": {SCHEMAS + "LocalizedTextInput", SCHEMAS + "LocalizedTextRead", SCHEMAS + "LocalizedText"},
}
WHERE = {"request": "in a request", "response": "in a response", "unused": "in a schema no operation uses"}
CANONICAL = {
    "LocalizedText": {
        "type": "object",
        "required": ["defaultLocale", "locales"],
        "additionalProperties": False,
        "properties": {
            "defaultLocale": {"$ref": SCHEMAS + "LocaleTag"},
            "locales": {
                "type": "object",
                "propertyNames": {"$ref": SCHEMAS + "LocaleTag"},
                "additionalProperties": {"type": "string"},
            },
        },
    },
    "LocalizedTextInput": {"oneOf": [{"type": "string"}, {"$ref": SCHEMAS + "LocalizedText"}]},
    "LocalizedTextRead": {"oneOf": [{"$ref": SCHEMAS + "LocalizedText"}, {"type": "string"}]},
    "LocaleReport": {
        "type": "object",
        "required": ["requested", "resolved", "fallbacks"],
        "additionalProperties": False,
        "properties": {
            "requested": {"$ref": SCHEMAS + "LocaleTag"},
            "resolved": {"oneOf": [{"$ref": SCHEMAS + "LocaleTag"}, {"type": "null"}]},
            "fallbacks": {"type": "array", "items": {"$ref": SCHEMAS + "LocaleFallback"}},
        },
    },
    "LocaleFallback": {
        "type": "object",
        "required": ["pointer", "locale"],
        "additionalProperties": False,
        "properties": {"pointer": {"type": "string"}, "locale": {"$ref": SCHEMAS + "LocaleTag"}},
    },
}
CANONICAL_DESCRIPTIONS = {
    "LocalizedTextInput": "plain single-locale text is stored in the envelope under the content-language of the request, else en",
    "LocalizedTextRead": "with `?lang=` the projected string",
}
WELL_FORMED_TAGS = ["en", "fr-CA", "zh-Hant-TW", "es-419", "de-CH-1996", "x-private", "i-klingon"]
ILL_FORMED_TAGS = ["", "en_US", "en-", "-en", "toolonglanguage", "en-US-US", "fr-CA "]

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
MUTATING = {"post", "put", "patch", "delete"}
PRINCIPAL_SCHEMES = {
    "public": [],
    "person": [{"personAccessToken": []}],
    "platform-operator": [{"platformOperatorToken": []}],
    "portal-link": [{"portalToken": []}],
}
ANNOTATIONS = {"description", "title", "examples", "example", "$comment"}
SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "dependentSchemas"}
SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
SCHEMA_VALUES = {
    "items", "additionalProperties", "propertyNames", "not", "if", "then", "else", "contains",
    "unevaluatedItems", "unevaluatedProperties", "contentSchema",
}

problems = []


def json_path(*keys):
    """`$.a.b['/v1/x'][0]` for a location in the document."""
    text = "$"
    for key in keys:
        if isinstance(key, int):
            text += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", key):
            text += f".{key}"
        else:
            text += f"['{key}']"
    return text


def subschemas(schema, path):
    """(location, subschema) of every schema directly inside `schema`."""
    for keyword, value in schema.items():
        if keyword in SCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield path + (keyword, name), sub
        elif keyword in SCHEMA_LISTS and isinstance(value, list):
            for index, sub in enumerate(value):
                yield path + (keyword, index), sub
        elif keyword in SCHEMA_VALUES and isinstance(value, dict):
            yield path + (keyword,), value


def normalized(schema):
    """`schema` without annotations, with order-free lists sorted: what "the same shape" compares."""
    if not isinstance(schema, dict):
        return schema
    result = {}
    for keyword, value in schema.items():
        if keyword in ANNOTATIONS:
            continue
        if keyword in SCHEMA_MAPS and isinstance(value, dict):
            result[keyword] = {name: normalized(sub) for name, sub in value.items()}
        elif keyword in SCHEMA_LISTS and isinstance(value, list):
            result[keyword] = [normalized(sub) for sub in value]
        elif keyword in SCHEMA_VALUES and isinstance(value, dict):
            result[keyword] = normalized(value)
        elif keyword in {"required", "enum", "type"} and isinstance(value, list):
            result[keyword] = sorted(value, key=str)
        else:
            result[keyword] = value
    return result


def resolve(document, node):
    """Follows a local `$ref` of a components object (request body, response, parameter, header)."""
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/components/"):
        section, name = node["$ref"][len("#/components/"):].split("/", 1)
        node = document["components"][section][name]
    return node


# 1. Valid OpenAPI 3.1, and examples that fit their schemas.

def check_valid(document):
    if document.get("openapi", "").split(".")[:2] != ["3", "1"]:
        problems.append(f"$.openapi: must be 3.1.x, is {document.get('openapi')!r}")
    for error in OpenAPIV31SpecValidator(document).iter_errors():
        location = json_path(*error.absolute_path) if getattr(error, "absolute_path", None) else "$"
        problems.append(f"{location}: {error.message}")


def check_examples(document):
    components = document.get("components", {})

    def fits(schema, example, path):
        root = {key: value for key, value in schema.items() if key not in {"examples", "example"}}
        root["components"] = components
        for error in Draft202012Validator(root).iter_errors(example):
            problems.append(f"{json_path(*path)}: example {example!r} does not fit the schema: {error.message}")

    def visit(node, path):
        if isinstance(node, dict):
            if isinstance(node.get("schema"), dict) and "example" in node:  # a media type or a parameter
                fits(node["schema"], node["example"], path + ("example",))
            for key, value in node.items():
                if key == "examples" and isinstance(value, list):  # a schema's (OpenAPI objects keep a map)
                    for index, example in enumerate(value):
                        fits(node, example, path + ("examples", index))
                    continue
                visit(value, path + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, path + (index,))

    visit(document, ())


# 2. The line layout of `paths`.

def listed_operations(text):
    """(METHOD, path) of each operation a line-based reader finds, and the lines that break the layout."""
    operations, layout = set(), []
    in_paths, current = False, None
    for number, line in enumerate(text.splitlines(), 1):
        if not in_paths:
            in_paths = line.rstrip() == "paths:"
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line.startswith(" "):
            break
        indent = len(line) - len(line.lstrip(" "))
        if indent == 2:
            match = re.fullmatch(r"  (/\S*):\s*", line)
            current = match.group(1) if match else None
            if not match:
                layout.append(f"line {number}: a path key must be `  /path:` alone on its line: {line!r}")
        elif indent == 4:
            match = re.fullmatch(r"    ([a-z]+):\s*", line)
            if match and match.group(1) in METHODS and current:
                operations.add((match.group(1).upper(), current))
            elif not (match and match.group(1) == "parameters"):
                layout.append(f"line {number}: only operation keys and `parameters:` may be indented four spaces: {line!r}")
    return operations, layout


def check_layout(document, text):
    listed, layout = listed_operations(text)
    problems.extend(f"$.paths: {issue}" for issue in layout)
    parsed = {(method.upper(), path) for path, item in document.get("paths", {}).items() for method in item if method in METHODS}
    for method, path in sorted(parsed - listed):
        problems.append(f"{json_path('paths', path, method.lower())}: not found by the line-based reader (see the layout rules)")
    for method, path in sorted(listed - parsed):
        problems.append(f"$.paths: the line-based reader finds {method} {path}, which the document does not have")
    return parsed


# 3. Who may call each operation.

def check_operations(document):
    capabilities = set(document["components"]["schemas"].get("Capability", {}).get("enum", []))
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = json_path("paths", path, method)
            principal = operation.get("x-evalium-principal")
            if principal not in PRINCIPAL_SCHEMES:
                problems.append(f"{where}: x-evalium-principal must be one of {sorted(PRINCIPAL_SCHEMES)}")
            elif operation.get("security") != PRINCIPAL_SCHEMES[principal]:
                problems.append(f"{where}.security: must be {PRINCIPAL_SCHEMES[principal]} for a {principal} operation")
            capability = operation.get("x-evalium-capability")
            if capability is not None:
                if capability not in capabilities:
                    problems.append(f"{where}.x-evalium-capability: {capability!r} is not in the Capability catalogue")
                if f"`{capability}`" not in operation.get("description", ""):
                    problems.append(f"{where}.description: must name the capability `{capability}` it requires")
                if principal != "person":
                    problems.append(f"{where}: only person operations require capabilities")
            names = {resolve(document, parameter).get("name") for parameter in shared + operation.get("parameters", [])}
            # TUS requests are made safe to retry by the protocol's own offsets (`x-evalium-idempotency: tus-offset`).
            exempt = operation.get("x-evalium-idempotency") == "tus-offset"
            if method in MUTATING and principal not in (None, "public") and "Idempotency-Key" not in names and not exempt:
                problems.append(f"{where}.parameters: a mutating operation must take Idempotency-Key")


# 4. The localization contract.

def check_canonical(document):
    schemas = document["components"]["schemas"]
    for name, shape in CANONICAL.items():
        if name not in schemas:
            problems.append(f"$.components.schemas.{name}: missing (seed 001 §19.7)")
        elif normalized(schemas[name]) != normalized(shape):
            problems.append(f"$.components.schemas.{name}: not the canonical shape; expected {shape}")
    for name, phrase in CANONICAL_DESCRIPTIONS.items():
        if phrase not in " ".join(schemas.get(name, {}).get("description", "").lower().split()):
            problems.append(f"$.components.schemas.{name}.description: must say {phrase!r}")
    tag = schemas.get("LocaleTag", {})
    if tag.get("type") != "string" or "pattern" not in tag:
        problems.append("$.components.schemas.LocaleTag: must be a string with a BCP-47 pattern")
    else:
        pattern = re.compile(tag["pattern"])
        for text in WELL_FORMED_TAGS:
            if not pattern.search(text):
                problems.append(f"$.components.schemas.LocaleTag.pattern: refuses the well-formed tag {text!r}")
        for text in ILL_FORMED_TAGS:
            if pattern.search(text):
                problems.append(f"$.components.schemas.LocaleTag.pattern: accepts the ill-formed tag {text!r}")
    lang = document["components"].get("parameters", {}).get("Lang")
    expected = {"name": "lang", "in": "query", "schema": {"$ref": SCHEMAS + "LocaleTag"}}
    if not lang or {key: lang.get(key) for key in expected} != expected:
        problems.append(f"$.components.parameters.Lang: must be {expected}")


def check_localized_fields(document):
    """Walks every schema in its context (request, response, or unused) and returns the authored-text
    properties it checked, by location, with whether each is localized or opted out."""
    checked = {}
    seen = set()
    pending = []  # (schema, path, context, reached from)

    def visit(schema, path, context, origin):
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref", "")
        if ref.startswith(SCHEMAS):
            name = ref[len(SCHEMAS):]
            if (name, context) not in seen:
                seen.add((name, context))
                target = document["components"]["schemas"].get(name)
                pending.append((target, ("components", "schemas", name), context, origin))
        where = json_path(*path)
        for member, sub in schema.get("properties", {}).items():
            location = json_path(*path, "properties", member)
            if member in ENVELOPE_MEMBERS and where != ENVELOPE_HOME:
                problems.append(f"{location}: only LocalizedText declares `{member}`; refer to it instead")
            if member not in AUTHORED_TEXT or not isinstance(sub, dict):
                continue
            if sub.get("x-evalium-plain-text") is True:
                checked[location] = "plain"
            elif sub.get("$ref") in ALLOWED_REFS[context]:
                checked.setdefault(location, "localized")
            else:
                checked.setdefault(location, "violation")
                expected = " or ".join(sorted(ref.split("/")[-1] for ref in ALLOWED_REFS[context]))
                problems.append(
                    f"{location}: authored text `{member}` {WHERE[context]} must be a $ref to {expected}"
                    f" (or say x-evalium-plain-text: true){origin}")
        for sub_path, sub in subschemas(schema, path):
            visit(sub, sub_path, context, origin)

    def visit_content(container, path, context, origin):
        container = resolve(document, container)
        for media, body in (container.get("content") or {}).items():
            visit(body.get("schema"), path + ("content", media, "schema"), context, origin)
        for name, header in (container.get("headers") or {}).items():
            visit(resolve(document, header).get("schema"), path + ("headers", name, "schema"), context, origin)

    for path, item in document.get("paths", {}).items():
        for index, parameter in enumerate(item.get("parameters", [])):
            visit(resolve(document, parameter).get("schema"), ("paths", path, "parameters", index, "schema"), "request",
                  f" (parameter of {path})")
        for method, operation in item.items():
            if method not in METHODS:
                continue
            origin = f" (reached from {method.upper()} {path})"
            base = ("paths", path, method)
            for index, parameter in enumerate(operation.get("parameters", [])):
                visit(resolve(document, parameter).get("schema"), base + ("parameters", index, "schema"), "request", origin)
            if "requestBody" in operation:
                visit_content(operation["requestBody"], base + ("requestBody",), "request", origin)
            for status, response in operation.get("responses", {}).items():
                visit_content(response, base + ("responses", status), "response", origin)
    components = document.get("components", {})
    for name, parameter in components.get("parameters", {}).items():
        visit(parameter.get("schema"), ("components", "parameters", name, "schema"), "request", "")
    for name, body in components.get("requestBodies", {}).items():
        visit_content(body, ("components", "requestBodies", name), "request", "")
    for name, response in components.get("responses", {}).items():
        visit_content(response, ("components", "responses", name), "response", "")
    for name, header in components.get("headers", {}).items():
        visit(header.get("schema"), ("components", "headers", name, "schema"), "response", "")
    def drain():
        while pending:
            visit(*pending.pop())

    drain()
    for name, schema in components.get("schemas", {}).items():
        if not any(used == name for used, _ in seen):  # no operation uses it: any of the three forms will do
            seen.add((name, "unused"))
            pending.append((schema, ("components", "schemas", name), "unused", ""))
            drain()
    return checked


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_openapi.py openapi/evalium.yaml")
    filename = sys.argv[1]
    with open(filename, encoding="utf-8") as file:
        text = file.read()
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        sys.exit(f"openapi check failed for {filename}: not valid YAML: {error}")
    check_valid(document)
    check_examples(document)
    operations = check_layout(document, text)
    check_operations(document)
    check_canonical(document)
    checked = check_localized_fields(document)
    unique = list(dict.fromkeys(problems))
    if unique:
        print(f"openapi check failed for {filename}:")
        for problem in unique:
            print(f"  - {problem}")
        sys.exit(1)
    localized = sum(1 for kind in checked.values() if kind == "localized")
    print(
        f"openapi check passed: {filename} is valid OpenAPI {document['openapi']} with {len(operations)} operations on"
        f" {len(document['paths'])} paths; localization contract holds ({len(checked)} authored-text fields checked:"
        f" {localized} localized, {len(checked) - localized} marked x-evalium-plain-text)")


if __name__ == "__main__":
    main()
