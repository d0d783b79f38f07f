"""Marshmallow schemas of the HTTP contract v1. Unknown fields are rejected everywhere."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, has_app_context
from marshmallow import validate

from api.html_check import has_visible_text
from jobs.contract import ANALYSIS_TASKS, JobStatus, Priority


def config_limit(name: str, default: int) -> int:
    """A limit from the app's config (`default` outside an app, as in the OpenAPI build)."""
    return int(current_app.config.get(name, default)) if has_app_context() else default


def check_length(data: Any, field: str, maximum: int, message: str) -> None:
    """Refuse a list longer than `maximum` as the client sent it, before any item of it is
    validated: validating 830,000 claims one by one took 3.9 s and 27 MB of errors."""
    value = data.get(field) if isinstance(data, dict) else None
    if isinstance(value, list) and len(value) > maximum:
        raise ma.ValidationError(message, field)


class StrictSchema(ma.Schema):
    """Unknown fields are refused; an object with more fields than the schema has is refused
    whole, before its fields are looked at (one error per unknown field would be unbounded)."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _few_fields(self, data: Any, **_: Any) -> Any:
        known = len(self.load_fields)
        if isinstance(data, dict) and len(data) > known:
            fields = "field" if known == 1 else "fields"
            raise ma.ValidationError(f"Unknown fields: this object has at most {known} {fields}.")
        return data


class Text(ma.fields.String):
    """A string of text: no NUL characters, no lone surrogates (they cannot be stored)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ma.ValidationError("Contains NUL characters.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ma.ValidationError("Contains invalid Unicode (lone surrogates).") from None
        return text


class HasText(validate.Regexp):
    """Some character that is not whitespace, anywhere (`Regexp` only matches at the start).

    Keeps the `pattern` of the OpenAPI spec (JSON Schema patterns search, unanchored)."""

    def __init__(self, error: str) -> None:
        super().__init__(r"\S", error=error)

    def __call__(self, value: str) -> str:  # type: ignore[override]
        if self.regex.search(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


class TrimmedString(Text):
    """Text with surrounding whitespace removed before validation."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class ArticleSchema(StrictSchema):
    """Exactly one of `text` and `html`."""

    title = TrimmedString(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    text = Text(
        validate=HasText("The article text is empty."),
        metadata={"description": "The article as plain (or scraped) text."},
    )
    html = Text(
        validate=HasText("The HTML is empty."),
        metadata={"description": "A web page; its main text is extracted (trafilatura)."},
    )

    @ma.validates_schema
    def _text_or_html(self, data: dict[str, Any], **_: Any) -> None:
        if ("text" in data) == ("html" in data):
            raise ma.ValidationError("Give exactly one of text and html.", "_schema")
        if "html" in data and not has_visible_text(data["html"]):
            raise ma.ValidationError("The HTML has no visible text.", "html")


class SummaryOptionsSchema(StrictSchema):
    max_sentences = ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=10))
    max_words = ma.fields.Integer(strict=True, validate=validate.Range(min=10, max=300))

    @ma.validates_schema
    def _one_length(self, data: dict[str, Any], **_: Any) -> None:
        if "max_sentences" in data and "max_words" in data:
            raise ma.ValidationError("Give max_sentences or max_words, not both.", "_schema")


class OptionsSchema(StrictSchema):
    summary = ma.fields.Nested(SummaryOptionsSchema, load_default=dict)


class JobCreateSchema(StrictSchema):
    article = ma.fields.Nested(ArticleSchema, required=True)
    claims = ma.fields.List(
        TrimmedString(validate=validate.Length(min=3, max=500)),
        load_default=None,
        metadata={
            "description": "Claims to detect the stance towards; default: [title], the title"
            " given or else the one found in the text."
        },
    )
    tasks = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(ANALYSIS_TASKS)),
        load_default=None,
        validate=validate.Length(min=1, max=len(ANALYSIS_TASKS)),
        metadata={
            "description": "Default: both; stance when there is a claim, or a title given or"
            " found in the text."
        },
    )
    options = ma.fields.Nested(OptionsSchema, load_default=dict)
    callback_url = ma.fields.Url(
        load_default=None,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2000),
        metadata={"description": "POSTed the job (signed, X-Newsnlp-Signature) when it ends."},
    )
    priority = ma.fields.String(
        load_default=None,
        validate=validate.OneOf([p.value for p in Priority]),
        metadata={
            "description": "The job's lane: a worker takes an interactive job before any bulk"
            " one. Default: interactive for POST /v1/jobs, bulk for POST /v1/batches."
        },
    )

    @ma.pre_load
    def _short_lists(self, data: Any, **_: Any) -> Any:
        max_claims = config_limit("MAX_CLAIMS", 200)
        check_length(data, "claims", max_claims, f"At most {max_claims} claims per job.")
        check_length(
            data, "tasks", len(ANALYSIS_TASKS), f"Longer than maximum length {len(ANALYSIS_TASKS)}."
        )
        return data

    @ma.post_load
    def _normalize(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data["tasks"] is None:
            # Both by default; without claims nor a title, the claim is the title the worker
            # finds in the text (none found: summary only), so no claim is given here.
            data["tasks"] = list(ANALYSIS_TASKS)
            if data["claims"] is None and not data["article"].get("title"):
                data["claims"] = []
        data["tasks"] = [name for name in ANALYSIS_TASKS if name in data["tasks"]]
        if "stance" in data["tasks"] and data["claims"] is None:
            title = data["article"].get("title")
            if not title:
                raise ma.ValidationError(
                    "The stance task needs claims, or an article title to use as the claim.",
                    "claims",
                )
            data["claims"] = [title]
        if "stance" not in data["tasks"]:
            data["claims"] = []
        data["options"].setdefault("summary", {})
        return data


class LinksSchema(ma.Schema):
    self = ma.fields.String()


class JobCreatedSchema(ma.Schema):
    id = ma.fields.String()
    status = ma.fields.String()
    links = ma.fields.Nested(LinksSchema)


class JobErrorSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "A stable code, as an HTTP error's code"})
    message = ma.fields.String()


# The job's result, as the worker writes it (worker/serialize.py); typed here for the spec.
class ResultArticleSchema(ma.Schema):
    title = ma.fields.String(allow_none=True)
    byline = ma.fields.String(allow_none=True)
    dateline = ma.fields.String(allow_none=True)
    text = ma.fields.String(metadata={"description": "the cleaned text"})
    sentence_count = ma.fields.Integer()
    word_count = ma.fields.Integer()


class SpanSchema(ma.Schema):
    index = ma.fields.Integer(metadata={"description": "the sentence's number in the text"})
    text = ma.fields.String()
    start = ma.fields.Integer(metadata={"description": "offset in article.text"})
    end = ma.fields.Integer()


class SummaryResultSchema(ma.Schema):
    text = ma.fields.String()
    method = ma.fields.String()
    sentences = ma.fields.List(ma.fields.Nested(SpanSchema))


class EvidenceSchema(SpanSchema):
    score = ma.fields.Float(metadata={"description": "similarity of the sentence to the claim"})
    verdict = ma.fields.String(
        allow_none=True,
        metadata={
            "enum": ["supports", "refutes", "neutral", None],
            "description": "what the sentence says of the claim (null for unrelated claims)",
        },
    )
    verdict_score = ma.fields.Float(allow_none=True, metadata={"description": "its probability"})


class StanceResultSchema(ma.Schema):
    claim = ma.fields.String()
    label = ma.fields.String(metadata={"enum": ["agree", "disagree", "discuss", "unrelated"]})
    scores = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float())
    evidence = ma.fields.List(
        ma.fields.Nested(EvidenceSchema),
        metadata={"description": "the sentence that decided the label first"},
    )


class ResultWarningSchema(ma.Schema):
    code = ma.fields.String()
    message = ma.fields.String()


class ModelSchema(ma.Schema):
    name = ma.fields.String()
    version = ma.fields.String(
        metadata={"description": "sha256 prefix of its files, or its Hugging Face revision"}
    )
    runtime = ma.fields.String(metadata={"description": "e.g. torch bf16, onnx int8, lightgbm"})


class ModelsSchema(ma.Schema):
    """The model of each stage that ran, as the worker loaded it."""

    encoder = ma.fields.Nested(ModelSchema)
    summarizer = ma.fields.Nested(ModelSchema)
    stance = ma.fields.Nested(ModelSchema)
    stance_verifier = ma.fields.Nested(
        ModelSchema, metadata={"description": "where the stance model ships a verifier"}
    )


class ResultSchema(ma.Schema):
    models = ma.fields.Nested(ModelsSchema)
    article = ma.fields.Nested(ResultArticleSchema)
    summary = ma.fields.Nested(SummaryResultSchema)
    stance = ma.fields.List(ma.fields.Nested(StanceResultSchema))
    timings_ms = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float())
    warnings = ma.fields.List(ma.fields.Nested(ResultWarningSchema))


class JobSchema(ma.Schema):
    id = ma.fields.String()
    status = ma.fields.String(metadata={"enum": [status.value for status in JobStatus]})
    created_at = ma.fields.String()
    started_at = ma.fields.String(allow_none=True)
    finished_at = ma.fields.String(allow_none=True)
    priority = ma.fields.String(metadata={"enum": [p.value for p in Priority]})
    attempts = ma.fields.Integer()
    result = ma.fields.Nested(ResultSchema, allow_none=True)
    error = ma.fields.Nested(JobErrorSchema, allow_none=True)
    webhook = ma.fields.Dict(
        metadata={"description": "With a callback_url: delivered or failed, attempts, error"}
    )
    links = ma.fields.Nested(LinksSchema)


class WorkerModelsSchema(ma.Schema):
    name = ma.fields.String()
    heartbeat_at = ma.fields.Float(metadata={"description": "Unix time of its last heartbeat"})
    concurrency = ma.fields.Integer()
    models = ma.fields.Nested(ModelsSchema)


class FleetSchema(ma.Schema):
    workers = ma.fields.List(ma.fields.Nested(WorkerModelsSchema))
    mixed = ma.fields.Boolean(metadata={"description": "whether the workers run different models"})
