"""Structured output through OpenRouter's ``response_format``.

Imported only when ``with_structured_output`` is called: the output parsers and
schema tools it needs would otherwise add to every import of the package.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.pydantic import is_basemodel_subclass

from langchain_nanobanana._openrouter.refusals import raise_if_refused


def response_format_for(
    schema: dict[str, Any] | type | None, method: str, strict: bool | None
) -> dict[str, Any]:
    """``{"type": "json_object"}`` for JSON mode, else a ``json_schema`` format."""
    if method == "json_mode":
        return {"type": "json_object"}
    if schema is None:
        raise ValueError("with_structured_output(method='json_schema') needs a schema.")
    json_schema = convert_to_json_schema(schema)
    return {
        "type": "json_schema",
        "json_schema": {
            "name": json_schema.get("title", "output"),
            "schema": json_schema,
            "strict": bool(strict),
        },
    }


def _refuse_refusals(result: list[Generation]) -> None:
    if result and isinstance(result[0], ChatGeneration):
        raise_if_refused(result[0].message)


# langchain-core 1.7.5+ parsers raise ModelRefusalError for a refused answer themselves;
# older ones would call it invalid JSON. These raise the same way on every core.
class _JsonParser(JsonOutputParser):
    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        _refuse_refusals(result)
        return super().parse_result(result, partial=partial)


class _PydanticParser(PydanticOutputParser):  # type: ignore[type-arg]
    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        _refuse_refusals(result)
        return super().parse_result(result, partial=partial)


def parsed_output(
    llm: Runnable[LanguageModelInput, Any], schema: dict[str, Any] | type | None, include_raw: bool
) -> Runnable[LanguageModelInput, Any]:
    """``llm`` followed by the parser for ``schema``; with ``include_raw``, LangChain's usual
    ``{"raw", "parsed", "parsing_error"}`` dict. A refused answer raises (or, with
    ``include_raw``, is the ``parsing_error``): see ``_refusals.raise_if_refused``."""
    parser: Runnable[Any, Any] = _JsonParser()
    if isinstance(schema, type) and is_basemodel_subclass(schema):
        parser = _PydanticParser(pydantic_object=schema)
    if not include_raw:
        return llm | parser
    parsed = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    with_fallback = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parsed.with_fallbacks(
        [with_fallback], exception_key="parsing_error"
    )
