"""The analysis pipeline on the real MiniLM: one embedding pass serves summary and stance."""

from __future__ import annotations

import pytest

from services.analysis import AnalysisRequest, Analyzer
from services.errors import EmptyArticleError
from services.provenance import ModelInfo
from services.stance.similarity import SimilarityStanceDetector
from services.summarize.extractive import ExtractiveSummarizer, SummaryOptions
from tests.conftest import CLUTTER, REFERENCE_TITLE
from worker.serialize import analysis_to_result


class CountingEncoder:
    """The real encoder, counting its calls and the texts it embeds."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.calls: list[int] = []

    def encode(self, texts):
        self.calls.append(len(texts))
        return self.encoder.encode(texts)


@pytest.fixture()
def counting(encoder):
    return CountingEncoder(encoder)


def test_sentences_and_claims_are_embedded_in_one_pass(counting, reference_text):
    analyzer = Analyzer(counting, ExtractiveSummarizer(), SimilarityStanceDetector())
    claims = (REFERENCE_TITLE, "Barcelona beat Real Madrid 3-1")
    analysis = analyzer.analyze(AnalysisRequest(text=reference_text, claims=claims))
    assert counting.calls == [len(analysis.document.sentences) + 2]
    assert analysis.summary is not None and analysis.stance is not None
    assert [s.claim for s in analysis.stance] == list(claims)
    assert set(analysis.timings_ms) == {"clean", "embed", "summary", "stance"}


def test_summary_only_skips_the_claims(counting, reference_text):
    analyzer = Analyzer(counting, ExtractiveSummarizer(), SimilarityStanceDetector())
    request = AnalysisRequest(
        text=reference_text,
        claims=("ignored claim",),
        tasks=frozenset({"summary"}),
        summary=SummaryOptions(max_sentences=2),
    )
    analysis = analyzer.analyze(request)
    assert analysis.stance is None
    assert len(analysis.summary.sentences) == 2
    assert counting.calls == [len(analysis.document.sentences)]


def test_result_json_offsets_point_into_the_cleaned_text(encoder, reference_text):
    analyzer = Analyzer(encoder, ExtractiveSummarizer(), SimilarityStanceDetector())
    result = analysis_to_result(
        analyzer.analyze(AnalysisRequest(text=reference_text, claims=(REFERENCE_TITLE,))), ()
    )
    body = result["article"]["text"]
    assert result["article"]["title"] == REFERENCE_TITLE
    for clutter in CLUTTER:
        assert clutter not in body
    for sentence in result["summary"]["sentences"]:
        assert body[sentence["start"] : sentence["end"]] == sentence["text"]
    for evidence in result["stance"][0]["evidence"]:
        assert body[evidence["start"] : evidence["end"]] == evidence["text"]


def test_result_names_the_models_of_the_stages_that_ran(encoder, reference_text):
    analyzer = Analyzer(encoder, ExtractiveSummarizer(), SimilarityStanceDetector())
    models = (
        ModelInfo("encoder", "minilm", "0123456789ab", "torch fp32"),
        ModelInfo("summarizer", "extractive", "123456789abc", "numpy"),
        ModelInfo("stance", "stance", "23456789abcd", "lightgbm"),
        ModelInfo("stance_verifier", "cross", "3456789abcde", "torch bf16"),
    )
    both = analyzer.analyze(AnalysisRequest(text=reference_text, claims=(REFERENCE_TITLE,)))
    result = analysis_to_result(both, models)
    assert list(result["models"]) == ["encoder", "summarizer", "stance", "stance_verifier"]
    assert result["models"]["encoder"] == {
        "name": "minilm", "version": "0123456789ab", "runtime": "torch fp32"
    }  # fmt: skip
    summary_only = AnalysisRequest(text=reference_text, tasks=frozenset({"summary"}))
    result = analysis_to_result(analyzer.analyze(summary_only), models)
    assert list(result["models"]) == ["encoder", "summarizer"]


def test_an_article_of_clutter_only_is_an_error(encoder):
    analyzer = Analyzer(encoder, ExtractiveSummarizer(), SimilarityStanceDetector())
    with pytest.raises(EmptyArticleError) as info:
        analyzer.analyze(AnalysisRequest(text="Add a comment\n\nSort by\n", claims=("abc",)))
    assert info.value.code == "article_empty"


def test_without_claims_nor_title_the_title_found_in_the_text_is_the_claim(encoder, reference_text):
    analyzer = Analyzer(encoder, ExtractiveSummarizer(), SimilarityStanceDetector())
    analysis = analyzer.analyze(AnalysisRequest(text=reference_text))
    assert analysis.document.title == REFERENCE_TITLE
    assert analysis.stance is not None
    assert [s.claim for s in analysis.stance] == [REFERENCE_TITLE]
    assert analysis.stance[0].label != "unrelated"


def test_without_claims_nor_any_title_no_stance_is_detected(encoder):
    analyzer = Analyzer(encoder, ExtractiveSummarizer(), SimilarityStanceDetector())
    text = "The council passed the budget on Monday. Schools get more money next year."
    analysis = analyzer.analyze(AnalysisRequest(text=text))
    assert analysis.document.title is None
    assert analysis.stance is None and analysis.summary is not None
