"""Work items with several outputs: written together, listed in the sidecar, done only when complete."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from facefill.errors import ImageReadError
from facefill.jobs.plan import PlanRequest, build_plan
from facefill.jobs.runner import RunOptions, is_finished, run_job


class EchoProcessor:
    """Writes the text, its reverse and a JSON note per item; 'crash' fails half-way through saving."""

    description = "echo"

    def run_info(self) -> dict:
        return {"model": "echo"}

    def load(self, item):
        return item.source.read_text()

    def process(self, batch):
        return [text for _, text in batch]

    def save_outputs(self, item, loaded, result, outputs) -> dict:
        outputs.target.write_text(result)
        reverse = item.output.with_name(item.output.stem + "_reverse.txt")
        outputs.path("reverse", reverse).write_text(result[::-1])
        if result == "crash":
            raise ImageReadError("encoder crashed")
        outputs.metadata(
            "reverse_json", reverse.with_suffix(".json"), describes=reverse, fields={"reversed": True}
        )
        return {"length": len(result)}


def _plan(root: Path, contents: dict[str, str]) -> list:
    (root / "in").mkdir()
    for name, text in contents.items():
        (root / "in" / name).write_text(text)
    return build_plan(PlanRequest(inputs=(str(root / "in"),), output=str(root / "out"), require_mask=False))


def test_every_output_is_written_and_listed_in_the_sidecar_written_last(tmp_path: Path) -> None:
    items = _plan(tmp_path, {"a.png": "abc", "b.png": "xyz"})
    summary = run_job(items, EchoProcessor(), RunOptions(command="facefill echo"))
    assert summary.counts["done"] == 2
    out = tmp_path / "out"
    assert (out / "a_reverse.txt").read_text() == "cba"
    side = json.loads((out / "a.json").read_text())
    assert side["outputs"] == {
        "output": str(out / "a.png"),
        "reverse": str(out / "a_reverse.txt"),
        "reverse_json": str(out / "a_reverse.json"),
    }
    note = json.loads((out / "a_reverse.json").read_text())
    assert note["reversed"] is True and note["output"] == str(out / "a_reverse.txt")
    assert note["input_sha256"] == hashlib.sha256(b"abc").hexdigest() and note["command"] == "facefill echo"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_a_failure_while_saving_leaves_none_of_the_item_outputs(tmp_path: Path) -> None:
    items = _plan(tmp_path, {"bad.png": "crash", "good.png": "ok"})
    summary = run_job(items, EchoProcessor(), RunOptions())
    assert {r.name: r.status for r in summary.results} == {"bad.png": "failed", "good.png": "done"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "good.json",
        "good.png",
        "good_reverse.json",
        "good_reverse.txt",
    ]


def test_an_item_missing_any_listed_output_is_not_finished_and_is_redone(tmp_path: Path) -> None:
    items = _plan(tmp_path, {"a.png": "abc"})
    run_job(items, EchoProcessor(), RunOptions())
    assert is_finished(items[0])
    (tmp_path / "out" / "a_reverse.txt").unlink()
    assert not is_finished(items[0])
    again = run_job(items, EchoProcessor(), RunOptions())
    assert again.counts["done"] == 1 and (tmp_path / "out" / "a_reverse.txt").read_text() == "cba"


def test_an_extra_output_onto_the_input_is_refused(tmp_path: Path) -> None:
    class Clobber(EchoProcessor):
        def save_outputs(self, item, loaded, result, outputs) -> dict:
            outputs.target.write_text(result)
            outputs.path("oops", item.source).write_text("gone")
            return {}

    items = _plan(tmp_path, {"a.png": "abc"})
    summary = run_job(items, Clobber(), RunOptions())
    assert summary.counts["failed"] == 1 and "is an input" in summary.results[0].reason
    assert (tmp_path / "in" / "a.png").read_text() == "abc" and not (tmp_path / "out" / "a.png").exists()
