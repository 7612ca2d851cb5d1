"""Planning a batch: discovery, mask pairing, output names, input protection and sharding.

These tests touch files only (the jobs layer never needs pixels to plan), so they use empty files.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from facefill.errors import OutputError, UsageError
from facefill.jobs.discover import discover_inputs
from facefill.jobs.outputs import output_paths, sidecar_paths
from facefill.jobs.pairing import Companions
from facefill.jobs.plan import NO_MASK, PlanRequest, build_plan
from facefill.jobs.shard import Shard, parse_shard


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def rels(found) -> list[str]:
    return [f.rel.as_posix() for f in found]


def test_discover_folder_filters_extensions_case_insensitively(tmp_path: Path) -> None:
    touch(tmp_path, "a.PNG", "b.JpEg", "c.txt", "d.tiff", ".hidden.png", "sub/e.webp")
    assert rels(discover_inputs([str(tmp_path)])) == ["a.PNG", "b.JpEg", "d.tiff"]
    assert rels(discover_inputs([str(tmp_path)], recursive=True)) == [
        "a.PNG",
        "b.JpEg",
        "d.tiff",
        "sub/e.webp",
    ]


def test_discover_glob_is_relative_to_its_base_and_deduplicates(tmp_path: Path) -> None:
    touch(tmp_path, "imgs/a.png", "imgs/b.png", "imgs/c.bmp")
    found = discover_inputs([str(tmp_path / "imgs" / "*.png"), str(tmp_path / "imgs" / "a.png")])
    assert rels(found) == ["a.png", "b.png"]


def test_discover_errors_are_usage_errors(tmp_path: Path) -> None:
    touch(tmp_path, "notes.txt")
    with pytest.raises(UsageError, match="no such file"):
        discover_inputs([str(tmp_path / "missing.png")])
    with pytest.raises(UsageError, match="not a supported image"):
        discover_inputs([str(tmp_path / "notes.txt")])
    with pytest.raises(UsageError, match="--recursive"):
        discover_inputs([str(tmp_path)])


def test_mask_folder_matching_order(tmp_path: Path) -> None:
    masks = tmp_path / "masks"
    touch(masks, "sub/a.png", "a.png", "b.png", "c_mask.jpg", "sub/d_mask.png", "d_mask.png")
    comp = Companions(masks, suffix="_mask", option="--mask")
    # 1. same relative path wins over the same stem at the top
    assert comp.find(PurePosixPath("sub/a.jpg")) == masks / "sub/a.png"
    # 2. stem at the top of the folder
    assert comp.find(PurePosixPath("x/b.jpg")) == masks / "b.png"
    # 3. {stem}_mask, beside the relative path first, then at the top
    assert comp.find(PurePosixPath("c.png")) == masks / "c_mask.jpg"
    assert comp.find(PurePosixPath("sub/d.png")) == masks / "sub/d_mask.png"
    assert comp.find(PurePosixPath("other/d.png")) == masks / "d_mask.png"
    assert comp.find(PurePosixPath("zzz.png")) is None


def test_single_mask_file_pairs_everything(tmp_path: Path) -> None:
    touch(tmp_path, "m.png")
    comp = Companions(tmp_path / "m.png", suffix="_mask", option="--mask")
    assert comp.find(PurePosixPath("any/thing.jpg")) == tmp_path / "m.png"


def test_masks_beside_images_are_not_processed_as_images(tmp_path: Path) -> None:
    touch(tmp_path, "in/a.png", "in/a_mask.png", "in/b.png")
    items = build_plan(
        PlanRequest(inputs=(str(tmp_path / "in"),), output=str(tmp_path / "out"), mask=str(tmp_path / "in"))
    )
    by_name = {i.name: i for i in items}
    assert set(by_name) == {"a.png", "b.png"}
    assert by_name["a.png"].mask == tmp_path / "in/a_mask.png"
    assert (by_name["b.png"].preset_status, by_name["b.png"].preset_reason) == ("skipped", NO_MASK)


def test_output_names_mirror_and_change_extension(tmp_path: Path) -> None:
    rel = [PurePosixPath("a/b.jpg"), PurePosixPath("c.png")]
    src = [tmp_path / "a/b.jpg", tmp_path / "c.png"]
    assert output_paths(rel, src, target=tmp_path / "o", fmt="same", default_suffix="_x") == [
        tmp_path / "o/a/b.jpg",
        tmp_path / "o/c.png",
    ]
    assert (
        output_paths(rel, src, target=tmp_path / "o", fmt="webp", default_suffix="_x")[0]
        == tmp_path / "o/a/b.webp"
    )
    one = output_paths(rel[:1], src[:1], target=None, fmt="same", default_suffix="_x")
    assert one == [tmp_path / "a/b_x.jpg"]
    with pytest.raises(UsageError):
        output_paths(rel, src, target=None, fmt="same", default_suffix="_x")
    with pytest.raises(UsageError):
        output_paths(rel, src, target=tmp_path / "single.png", fmt="same", default_suffix="_x")


def test_sidecars_do_not_clobber_when_names_differ_only_by_extension(tmp_path: Path) -> None:
    outs = [tmp_path / "p.png", tmp_path / "p.jpg", tmp_path / "q.png"]
    sides = sidecar_paths(outs)
    assert sides == [tmp_path / "p.png.json", tmp_path / "p.jpg.json", tmp_path / "q.json"]
    assert len(set(sides)) == len(sides)


def test_output_on_an_input_is_refused(tmp_path: Path) -> None:
    touch(tmp_path, "in/a.png", "m.png")
    req = PlanRequest(
        inputs=(str(tmp_path / "in"),), output=str(tmp_path / "in"), mask=str(tmp_path / "m.png")
    )
    with pytest.raises(OutputError, match="never overwrites"):
        build_plan(req)


def test_output_collision_fails_the_later_item(tmp_path: Path) -> None:
    touch(tmp_path, "in/a.png", "in/a.jpg", "m.png")
    req = PlanRequest(
        inputs=(str(tmp_path / "in"),), output=str(tmp_path / "o"), fmt="png", mask=str(tmp_path / "m.png")
    )
    items = build_plan(req)
    statuses = sorted((i.name, i.preset_status) for i in items)
    assert statuses == [("a.jpg", None), ("a.png", "failed")]


@pytest.mark.parametrize("count", [2, 3, 5])
def test_shards_partition_items_exactly(count: int) -> None:
    names = [f"dir{i % 7}/img{i}.png" for i in range(300)]
    owners = [[s for s in range(count) if Shard(s, count).owns(n)] for n in names]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(1 for o in owners if o == [s]) for s in range(count)]
    assert min(sizes) > 300 / count * 0.6  # roughly balanced, no empty shard


def test_parse_shard_rejects_bad_values() -> None:
    assert parse_shard("1/4") == Shard(1, 4)
    assert parse_shard(None) is None
    for bad in ["4/4", "-1/2", "a/b", "1", "0/0"]:
        with pytest.raises(UsageError):
            parse_shard(bad)


def test_outputs_inside_a_recursive_input_are_not_inputs(tmp_path: Path) -> None:
    touch(tmp_path, "photos/a.png", "photos/out/a.png", "photos/out/a.json", "m.png")
    req = PlanRequest(
        inputs=(str(tmp_path / "photos"),),
        output=str(tmp_path / "photos/out"),
        recursive=True,
        mask=str(tmp_path / "m.png"),
    )
    assert [i.name for i in build_plan(req)] == ["a.png"]


def test_exemplars_pair_like_masks_and_are_optional(tmp_path: Path) -> None:
    touch(tmp_path, "in/a.png", "in/b.png", "m.png", "refs/a_exemplar.jpg")
    req = PlanRequest(
        inputs=(str(tmp_path / "in"),),
        output=str(tmp_path / "out"),
        mask=str(tmp_path / "m.png"),
        exemplar=str(tmp_path / "refs"),
    )
    items = {i.name: i for i in build_plan(req)}
    assert items["a.png"].exemplar == tmp_path / "refs/a_exemplar.jpg"
    assert items["b.png"].exemplar is None and items["b.png"].preset_status is None  # optional
