"""The `newsnlp` command's arguments (no server: tests/e2e/test_cli.py drives one)."""

from __future__ import annotations

import pytest

from cli.main import DEFAULT_URL, build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["--url", "http://h:1", "--api-key", "k", "submit", "a.txt"],
        ["submit", "a.txt", "--url", "http://h:1", "--api-key", "k"],
        ["submit", "--url", "http://h:1", "a.txt", "--api-key", "k"],
        ["--url", "http://other:2", "submit", "a.txt", "--url", "http://h:1", "--api-key", "k"],
    ],
)
def test_url_and_api_key_go_before_or_after_the_subcommand(argv):
    args = build_parser().parse_args(argv)
    assert (args.url, args.api_key, args.files) == ("http://h:1", "k", ["a.txt"])


def test_status_takes_them_after_the_subcommand_too():
    args = build_parser().parse_args(["status", "abc", "--url", "http://h:1"])
    assert (args.command, args.id, args.url) == ("status", "abc", "http://h:1")


def test_without_them_the_defaults_hold(monkeypatch):
    monkeypatch.delenv("NEWSNLP_URL", raising=False)
    monkeypatch.delenv("NEWSNLP_API_KEY", raising=False)
    args = build_parser().parse_args(["submit", "a.txt"])
    assert (args.url, args.api_key) == (DEFAULT_URL, None)
    monkeypatch.setenv("NEWSNLP_URL", "http://env:3")
    assert build_parser().parse_args(["status", "x"]).url == "http://env:3"


def test_help_says_what_the_options_are(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["submit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--url URL the service's URL" in text
    assert "--api-key API_KEY the API key" in text
    assert "without --wait, only the file and its job id" in text
    assert "the others go on" in text


def test_a_related_claims_deciding_sentence_is_printed_with_its_verdict(capsys):
    from cli.main import _print_job

    sentence = "Kerry arrived in Sochi on Tuesday for talks with Putin. " * 3
    job = {
        "id": "abc",
        "status": "succeeded",
        "result": {
            "stance": [
                {
                    "claim": "Kerry stayed in Washington",
                    "label": "disagree",
                    "scores": {"agree": 0.1, "disagree": 0.7, "discuss": 0.1, "unrelated": 0.1},
                    "evidence": [
                        {"text": sentence, "verdict": "refutes", "verdict_score": 0.91},
                        {"text": "Another.", "verdict": "neutral", "verdict_score": 0.5},
                    ],
                },
                {
                    "claim": "Barcelona beat Real Madrid",
                    "label": "unrelated",
                    "scores": {"agree": 0.0, "disagree": 0.0, "discuss": 0.0, "unrelated": 1.0},
                    "evidence": [{"text": "Ties collapsed."}],
                },
            ]
        },
    }
    _print_job(job)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  stance: disagree  (0.70)  Kerry stayed in Washington"
    assert lines[2].startswith("    refutes (0.91): “Kerry arrived in Sochi")
    assert lines[2].endswith("…”") and len(lines[2]) < 130
    assert lines[3] == "  stance: unrelated (1.00)  Barcelona beat Real Madrid"
    assert len(lines) == 4
