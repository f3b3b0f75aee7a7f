"""GitHub's official OpenAPI description (npm `@octokit/openapi`): route lookup, request validation,
and response templates taken from the description's own examples."""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_FILE = (
    Path(__file__).resolve().parents[1] / "npm/node_modules/@octokit/openapi/generated/api.github.com.json"
)
_BASE = "urn:github-openapi"


def _type_or_nullable(validator: Any, types: Any, instance: Any, schema: dict[str, Any]) -> Any:
    """OpenAPI 3.0's `nullable: true` (not a JSON-schema keyword) lets a typed value be null."""
    if instance is None and schema.get("nullable"):
        return
    yield from Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


# Response schemas use `nullable` throughout (e.g. a directory item's `download_url`).
_ResponseValidator = validators.extend(Draft4Validator, {"type": _type_or_nullable})


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_chars: int


def _escape_pointer(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class OpenAPI:
    """The loaded description; one per test session (loading takes about a second)."""

    def __init__(self, spec_file: Path = SPEC_FILE) -> None:
        if not spec_file.exists():
            raise FileNotFoundError(f"{spec_file} is missing: run `make testdata`")
        self.spec: dict[str, Any] = json.loads(spec_file.read_text())
        resource = Resource.from_contents(self.spec, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(_BASE, resource)
        self.operations: list[Operation] = []
        for template, methods in self.spec["paths"].items():
            escaped = re.escape(template)
            # A trailing `{path}` (the contents API) is a file path: it spans slashes.
            tail = re.escape("/{path}")
            escaped, spans = (escaped[: -len(tail)], True) if escaped.endswith(tail) else (escaped, False)
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", escaped) + ("/.+" if spans else "") + "$"
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            for method in methods:
                if method in ("get", "post", "patch", "put", "delete"):
                    self.operations.append(Operation(method.upper(), template, re.compile(regex), literal))

    def find(self, method: str, path: str) -> Operation | None:
        matches = [op for op in self.operations if op.method == method and op.pattern.match(path)]
        return max(matches, key=lambda op: op.literal_chars, default=None)

    def _op(self, op: Operation) -> dict[str, Any]:
        result: dict[str, Any] = self.spec["paths"][op.template][op.method.lower()]
        return result

    @functools.cache  # noqa: B019 - one instance per session
    def _validator(self, method: str, template: str) -> Draft4Validator | None:
        op = self.spec["paths"][template][method.lower()]
        if "requestBody" not in op:
            return None
        pointer = "/".join(
            _escape_pointer(p)
            for p in (
                "paths",
                template,
                method.lower(),
                "requestBody",
                "content",
                "application/json",
                "schema",
            )
        )
        return Draft4Validator({"$ref": f"{_BASE}#/{pointer}"}, registry=self._registry)

    def validate_body(self, op: Operation, body: Any) -> list[str]:
        """Errors of a JSON request body against the operation's schema (empty when valid)."""
        validator = self._validator(op.method, op.template)
        if validator is None:
            return [] if body is None else ["operation takes no request body"]
        required = self._op(op)["requestBody"].get("required", False)
        if body is None:
            return ["request body is required"] if required else []
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '<body>'}: {e.message}"
            for e in validator.iter_errors(body)
        ]

    def validate_response(self, method: str, template: str, status: str, body: Any) -> list[str]:
        """Errors of a JSON response body against the operation's documented response schema."""
        pointer = "/".join(
            _escape_pointer(p)
            for p in ("paths", template, method.lower(), "responses", status, "content", "application/json")
        )
        node: Any = self.spec
        for part in ("paths", template, method.lower(), "responses", status):
            node = node[part]
        if "$ref" in node:  # a shared response (`not_found`)
            pointer = "/".join(
                ("components", "responses", _escape_pointer(node["$ref"].rsplit("/", 1)[1]), "content")
            )
            pointer += "/" + _escape_pointer("application/json")
        validator = _ResponseValidator({"$ref": f"{_BASE}#/{pointer}/schema"}, registry=self._registry)
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '<body>'}: {e.message}"
            for e in validator.iter_errors(body)
        ]

    def example(self, method: str, template: str, status: str) -> Any:
        """A deep copy of the description's default example response for the operation."""
        content = self.spec["paths"][template][method.lower()]["responses"][status]["content"]
        example = next(iter(content["application/json"]["examples"].values()))
        if "$ref" in example:
            example = self.spec["components"]["examples"][example["$ref"].rsplit("/", 1)[1]]
        return copy.deepcopy(example["value"])
