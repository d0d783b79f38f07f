"""Non-English text is accepted with a `language_not_english` warning."""

from __future__ import annotations

from services.analysis import AnalysisRequest, Analyzer
from services.stance.similarity import SimilarityStanceDetector
from services.summarize.extractive import ExtractiveSummarizer
from services.text.language import english_ratio, looks_english

GERMAN = (
    "Der Bundestag hat am Donnerstag einen neuen Haushalt beschlossen. Die Regierung will "
    "mehr Geld für Schulen ausgeben. Kritiker sagen, dass die Straßen vergessen werden. "
    "Die Abstimmung im Bundesrat folgt im Mai, teilte ein Sprecher mit."
)
RUSSIAN = (
    "Госсекретарь США Джон Керри прибыл в Сочи для переговоров с президентом России. "
    "Стороны обсудят ситуацию на Украине, а также конфликты в Сирии, Йемене и Ливии. "
    "Это первый визит такого уровня с мая 2013 года, сообщили в Госдепартаменте."
)


def test_english_news_is_english(reference_text):
    assert looks_english(reference_text)
    assert english_ratio(reference_text) > 0.25


def test_other_languages_are_not():
    assert not looks_english(GERMAN)
    assert not looks_english(RUSSIAN)


def test_short_texts_are_given_the_benefit_of_the_doubt():
    assert looks_english("Der Haushalt.")


def test_the_analysis_warns_and_still_summarizes(encoder):
    analyzer = Analyzer(encoder, ExtractiveSummarizer(), SimilarityStanceDetector())
    analysis = analyzer.analyze(AnalysisRequest(text=GERMAN, tasks=frozenset({"summary"})))
    assert [w.code for w in analysis.warnings] == ["language_not_english"]
    assert analysis.summary is not None and analysis.summary.text


def test_english_analysis_has_no_warning(encoder, reference_text):
    analyzer = Analyzer(encoder, ExtractiveSummarizer(), SimilarityStanceDetector())
    analysis = analyzer.analyze(AnalysisRequest(text=reference_text, tasks=frozenset({"summary"})))
    assert analysis.warnings == ()
