"""A small, deterministic JSON document that satisfies a JSON schema (for structured output)."""

from __future__ import annotations

from typing import Any

_SCALARS: dict[str, Any] = {
    "string": "banana",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "null": None,
}


def instance_for(schema: dict[str, Any], definitions: dict[str, Any] | None = None) -> Any:
    """The first value our walk finds that validates against ``schema``.

    Handles what LangChain and pydantic emit: objects (every property), arrays
    (one item), enums and consts, anyOf/oneOf/allOf (first option), nullable
    type lists, and ``$ref`` into ``$defs``/``definitions``.
    """
    definitions = (
        definitions
        if definitions is not None
        else {**schema.get("definitions", {}), **schema.get("$defs", {})}
    )
    if "$ref" in schema:
        return instance_for(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for combinator in ("anyOf", "oneOf"):
        if schema.get(combinator):
            return instance_for(schema[combinator][0], definitions)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(instance_for(part, definitions) or {})
        return merged
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: instance_for(sub, definitions) for name, sub in properties.items()}
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        return [instance_for(items, definitions)] * max(1, schema.get("minItems", 1))
    return _SCALARS.get(kind, "banana")
