"""The `newsnlp` command and its Python client against the `make run` stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli.client import ApiError, NewsnlpClient
from tests.conftest import REFERENCE_ARTICLE, REFERENCE_TITLE, REPO_ROOT

pytestmark = pytest.mark.e2e


def newsnlp(stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--url", stack.url, *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_submit_files_and_wait_as_json(stack, reference_text, tmp_path):
    second = tmp_path / "second.txt"
    second.write_text("The council passed the budget on Monday. Schools get more money.\n")
    done = newsnlp(
        stack, "submit", str(REFERENCE_ARTICLE), str(second),
        "--claim", REFERENCE_TITLE, "--wait", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["status"] for line in lines] == ["succeeded", "succeeded"]
    assert lines[0]["result"]["stance"][0]["label"] != "unrelated"
    assert "2/2" in done.stderr  # the progress bar over many files


def test_status_of_a_job(stack):
    client = NewsnlpClient(stack.url)
    job_id = client.submit("The council passed the budget. Schools get more money.")
    done = newsnlp(stack, "status", job_id, "--wait", "30")
    assert done.returncode == 0, done.stderr
    assert f"job {job_id} succeeded" in done.stdout
    assert "summary:" in done.stdout
    client.close()


def test_client_errors_carry_the_reason(stack):
    client = NewsnlpClient(stack.url)
    with pytest.raises(ApiError) as info:
        client.submit("   ", title="A title")
    assert info.value.status == 422
    assert info.value.reason == "validation_error"
    done = newsnlp(stack, "status", "0" * 32)
    assert done.returncode == 2
    assert "job_not_found" in done.stderr
    client.close()


def test_a_bad_file_is_reported_by_name_and_the_others_go_on(stack, tmp_path):
    first, third = tmp_path / "a.txt", tmp_path / "c.txt"
    first.write_text("The council passed the budget on Monday. Schools get more money.\n")
    third.write_text("hello world\n")
    missing = tmp_path / "missing.txt"
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "submit", str(first), str(missing), str(third),
         "--wait", "--json", "--url", stack.url],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(line["file"], line["status"]) for line in lines] == [
        (str(first), "succeeded"),
        (str(third), "succeeded"),
    ]
    assert f"{missing}: cannot read the file: No such file or directory" in done.stderr
    assert "cannot reach" not in done.stderr


def test_every_file_submitted_means_exit_0(stack, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("The council passed the budget on Monday. Schools get more money.\n")
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "submit", str(article), "--url", stack.url, "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"file", "id"}
