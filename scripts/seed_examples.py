"""The seeds' JSON examples against our OpenAPI documents (issue 29: the proof that the typed
dialects describe what the seeds show).

    python scripts/seed_examples.py [--strict] [--openapi DIR] [--fixture FILE]

Each entry of tests/seeds/examples.json (every JSON example body of the API documents in
shared/seeds, repaired into valid JSON, see its `about`) names a document, an operation and a part
(`request` or a response status). The script finds that operation in openapi/<document>.json,
takes the request body's schema or that status's response schema, and validates the example with
`jsonschema`: `$ref`s resolve into the document's components, and OpenAPI 3.0's `nullable` becomes
a JSON Schema `null` alternative. One line per entry, then a summary per document:

- ok: the example validates;
- FAIL: it does not (each error with its JSON path), or the document lacks the operation, the status
  or a JSON body for it;
- untyped: the operation has no typed schema yet (no schema, `{}`, or a bare `{"type": "object"}`);
- known: an entry marked `cannot_validate` in the fixture (a seed typo that cannot validate by
  design, the reason beside it) that does not validate.

Exits 1 on any FAIL; with --strict also on any untyped entry.
"""
import argparse
import copy
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parent.parent
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
# Keywords that say nothing about a value's shape: a schema made only of them (and `type: object`)
# is untyped.
ANNOTATIONS = {"title", "description", "example", "examples", "default", "deprecated", "readOnly",
               "writeOnly", "externalDocs", "xml", "nullable"}


def to_json_schema(schema):
    """OpenAPI 3.0 schema object -> JSON Schema (draft 4): `nullable: true` admits null."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            out[key] = {name: to_json_schema(s) for name, s in value.items()}
        elif key in ("example", "examples", "default", "enum", "discriminator", "xml", "externalDocs"):
            out[key] = value
        else:
            out[key] = to_json_schema(value)
    if out.pop("nullable", False):
        # a sibling of $ref is ignored in draft 4, so the schema goes inside an anyOf
        return {"anyOf": [out, {"type": "null"}]}
    return out


def resolve(schema, components, seen=()):
    """Follows a schema's own $ref (and a lone allOf around one) to the schema it names."""
    while isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref is None and list(schema.get("allOf", [])) and len(schema["allOf"]) == 1:
            ref = schema["allOf"][0].get("$ref") if isinstance(schema["allOf"][0], dict) else None
        if not ref or not ref.startswith("#/components/schemas/") or ref in seen:
            return schema
        seen = seen + (ref,)
        schema = components.get(ref.rsplit("/", 1)[1])
    return schema


def untyped(schema, components):
    """True when the schema says nothing of the body's shape."""
    schema = resolve(schema, components)
    if not isinstance(schema, dict):
        return schema is None
    shape = {k: v for k, v in schema.items() if k not in ANNOTATIONS}
    if shape.get("additionalProperties") in ({}, True):
        del shape["additionalProperties"]
    return shape in ({}, {"type": "object"})


def json_content(content):
    """The schema of a JSON media type (`application/json`, with or without parameters)."""
    for media, entry in (content or {}).items():
        if media.split(";")[0].strip() in ("application/json", "*/*") or media.split(";")[0].endswith("+json"):
            return True, entry.get("schema")
    return False, None


def normalize(path):
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")


def find_operation(doc, entry):
    """(path, operation) in the document: the seed's own path when the document has it under other
    parameter names (Cloud Backup's tenant form, say), else the fixture's path."""
    method = entry["method"].lower()
    paths = doc.get("paths", {})
    wanted = normalize(entry["seed_path"])
    same = [p for p, ops in paths.items() if normalize(p) == wanted and method in ops]
    if len(same) == 1:
        return same[0], paths[same[0]][method]
    ops = paths.get(entry["path"], {})
    if method in ops:
        return entry["path"], ops[method]
    return None, None


def schema_for(doc, entry):
    """(schema or None, problem or None) for the entry's part of its operation."""
    path, op = find_operation(doc, entry)
    if op is None:
        return None, f"the document has no operation {entry['method']} {entry['path']}", path
    if entry["part"] == "request":
        body = op.get("requestBody")
        if body is None:
            return None, None, path  # no request body documented: untyped
        has_json, schema = json_content(body.get("content"))
        if not has_json:
            return None, f"the request body is not documented as JSON ({', '.join(body.get('content', {}))})", path
        return schema, None, path
    responses = op.get("responses", {})
    answer = responses.get(entry["part"]) or responses.get(entry["part"][0] + "XX")
    if answer is None:
        listed = ", ".join(sorted(responses))
        return None, f"the document lists no {entry['part']} answer ({listed})", path
    if "content" not in answer:
        return None, f"the document's {entry['part']} answer has no body", path
    has_json, schema = json_content(answer["content"])
    if not has_json:
        return None, f"the document's {entry['part']} answer is not JSON ({', '.join(answer['content'])})", path
    return schema, None, path


def where(error):
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def validate(body, schema, components):
    """The validation errors (JSON path: message), shallowest first."""
    root = {"allOf": [to_json_schema(schema)],
            "components": {"schemas": {n: to_json_schema(s) for n, s in components.items()}}}
    validator = jsonschema.Draft4Validator(root)
    errors = sorted(validator.iter_errors(body), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    return [f"{where(leaf)}: {message}" for leaf, message in map(explain, errors)]


def explain(error):
    """(the error that says where, its message): inside a nullable field's anyOf (see
    to_json_schema), the non-null alternative's error; inside another anyOf or oneOf, the best one."""
    if error.validator == "anyOf" and {"type": "null"} in error.validator_value and error.context:
        inner = [c for c in error.context if error.validator_value[c.schema_path[0]] != {"type": "null"}]
        if inner:
            leaf, message = explain(jsonschema.exceptions.best_match(inner))
            same_field = list(leaf.absolute_path) == list(error.absolute_path)
            return leaf, f"{message} (or null)" if same_field and not message.endswith("(or null)") else message
    if error.context:
        leaf = jsonschema.exceptions.best_match([error])
        if leaf is not error:
            return explain(leaf)
    return error, error.message


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strict", action="store_true", help="also fail on operations with no typed schema")
    parser.add_argument("--openapi", default=str(ROOT / "openapi"), help="the folder of the documents (openapi/)")
    parser.add_argument("--fixture", default=str(ROOT / "tests/seeds/examples.json"))
    args = parser.parse_args()

    entries = json.loads(Path(args.fixture).read_text())["entries"]
    docs = {}
    counts = defaultdict(Counter)
    for entry in entries:
        name = entry["document"]
        if name not in docs:
            docs[name] = json.loads((Path(args.openapi) / f"{name}.json").read_text())
        doc = docs[name]
        components = doc.get("components", {}).get("schemas", {})
        schema, problem, path = schema_for(doc, entry)
        label = f"{name} {entry['method']} {path or entry['path']} {entry['part']}: {entry['seed']}: {entry['name']}"
        details = []
        if problem:
            verdict = "FAIL"
            details = [problem]
        elif schema is None or untyped(schema, components):
            verdict = "untyped"
        else:
            details = validate(entry["body"], schema, components)
            verdict = "FAIL" if details else "ok"
        if entry.get("cannot_validate"):
            if verdict == "FAIL":
                verdict = "known"
                details = [f"cannot validate by design: {entry['cannot_validate']}"] + details
            elif verdict == "ok":
                details = ["marked cannot_validate in the fixture, yet it validates: the mark can go"]
        counts[name][verdict] += 1
        print(f"{verdict:7} {label}")
        for line in details[:6]:
            print(f"          {line}")
        if len(details) > 6:
            print(f"          ... and {len(details) - 6} more")

    total = Counter()
    print("\nper document:   ok  FAIL  untyped  known")
    for name in sorted(counts):
        c = counts[name]
        total.update(c)
        print(f"  {name:14} {c['ok']:3} {c['FAIL']:5} {c['untyped']:8} {c['known']:6}")
    print(f"  {'all':14} {total['ok']:3} {total['FAIL']:5} {total['untyped']:8} {total['known']:6}")
    # the plain closing line; untyped and known entries count as skipped
    print(f"seed examples: {total['ok']} passed, {total['FAIL']} failed, {total['untyped'] + total['known']} skipped")
    if total["FAIL"] or (args.strict and total["untyped"]):
        if args.strict and total["untyped"]:
            print(f"--strict: {total['untyped']} example(s) meet an operation with no typed schema", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
