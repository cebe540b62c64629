"""Discovery and planning: which files a batch reads, where each output goes, which shard."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from imagexform.batch.discover import Source, discover, input_root
from imagexform.batch.plan import check_template, parse_shard, plan, shard_index
from imagexform.errors import UserError

FIELDS = {"model": "toon", "family": "pix2pix", "scale": 4}


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def relatives(found) -> list[str]:
    return [str(s.relative) for s in found.sources]


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    touch(
        root,
        "b.jpg",
        "a.PNG",
        "Thumbs.db",
        ".DS_Store",
        "._a.jpg",
        "notes.txt",
        "sub/c.webp",
        "sub/deeper/d.tif",
        "sub/.hidden/e.jpg",
        ".git/f.png",
        "raw/g.JPG",
    )
    return root


def test_folder_lists_images_only_sorted_and_skips_junk_silently(messy):
    assert relatives(discover(str(messy))) == ["a.PNG", "b.jpg"]
    assert relatives(discover(str(messy), recursive=True)) == [
        "a.PNG",
        "b.jpg",
        "raw/g.JPG",
        "sub/c.webp",
        "sub/deeper/d.tif",
    ]


def test_include_and_exclude_match_relative_paths_case_insensitively(messy):
    found = discover(str(messy), recursive=True, include=["*.jpg"], exclude=["raw/*"])
    assert relatives(found) == ["b.jpg"]
    found = discover(str(messy), recursive=True, exclude=["*.JPG", "sub/deeper/*"])
    assert relatives(found) == ["a.PNG", "sub/c.webp"]


def test_single_file_and_glob_inputs(messy):
    found = discover(str(messy / "sub" / "c.webp"))
    assert found.root == messy / "sub"
    assert relatives(found) == ["c.webp"]
    found = discover(str(messy / "**" / "*.*"))
    assert found.root == messy
    assert relatives(found) == ["a.PNG", "b.jpg", "raw/g.JPG", "sub/c.webp", "sub/deeper/d.tif"]
    assert input_root(str(messy / "sub" / "*.webp")) == messy / "sub"


def test_input_errors_are_usage_errors(messy):
    with pytest.raises(UserError, match="no such file or folder"):
        discover(str(messy / "absent"))
    with pytest.raises(UserError, match="not an image or video file name"):
        discover(str(messy / "notes.txt"))


def test_output_tree_inside_input_is_not_read(messy):
    touch(messy, "out/b.jpg")
    found = discover(str(messy), recursive=True, skip_tree=messy / "out")
    assert "out/b.jpg" not in relatives(found)


def test_non_utf8_names_survive_discovery(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    odd = os.fsdecode(b"caf\xe9 \xff.png")
    (root / odd).write_bytes(b"x")
    (root / "日本 語.jpg").write_bytes(b"x")
    found = discover(str(root))
    assert sorted(s.path.name for s in found.sources) == sorted([odd, "日本 語.jpg"])


def sources(*names: str, root: Path = Path("/in")) -> list[Source]:
    return [Source(root / name, PurePosixPath(name)) for name in names]


def test_mirror_template_and_format(tmp_path):
    out = tmp_path / "out"
    planned = plan(
        sources("a.jpg", "sub/b.png"),
        out,
        template="{stem}_{model}_{family}_x{scale}{ext}",
        output_format="webp",
        fields=FIELDS,
    )
    assert [p.target for p in planned] == [
        out / "a_toon_pix2pix_x4.webp",
        out / "sub" / "b_toon_pix2pix_x4.webp",
    ]
    same = plan(sources("a.JPEG"), out, fields=FIELDS)
    assert same[0].target == out / "a.JPEG"


def test_flatten_collisions_get_stable_distinct_names(tmp_path):
    out = tmp_path / "out"
    names = ("x/photo.jpg", "y/PHOTO.jpg", "z/other.jpg")
    first = plan(sources(*names), out, flatten=True, fields=FIELDS)
    targets = [p.target.name for p in first]
    assert targets[2] == "other.jpg"
    assert len({t.lower() for t in targets}) == 3
    assert all(t.startswith(("photo_", "PHOTO_")) for t in targets[:2])
    # Sharding or reordering must not change anyone's name.
    shard = plan(sources(*names), out, flatten=True, fields=FIELDS, shard=(1, 2))
    by_source = {p.source.relative: p.target for p in first}
    assert all(by_source[p.source.relative] == p.target for p in shard)


def test_format_conversion_collisions_in_one_folder(tmp_path):
    planned = plan(sources("a.jpg", "a.png"), tmp_path, output_format="png", fields=FIELDS)
    assert planned[0].target != planned[1].target


def test_skip_existing_and_overwrite(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"done")
    assert [p.skip for p in plan(sources("a.jpg", "b.jpg"), tmp_path, fields=FIELDS)] == [
        True,
        False,
    ]
    planned = plan(sources("a.jpg", "b.jpg"), tmp_path, fields=FIELDS, overwrite=True)
    assert not any(p.skip for p in planned)


def test_overwriting_inputs_never_skips_the_source_itself(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"original")
    planned = plan(sources("a.jpg", root=tmp_path), tmp_path, fields=FIELDS)
    assert planned[0].target == tmp_path / "a.jpg"
    assert not planned[0].skip


def test_output_never_lands_on_another_input(tmp_path):
    """With OUTPUT == INPUT, y.jpg → y_a.jpg must not overwrite the input y_a.jpg."""
    (tmp_path / "y.jpg").write_bytes(b"1")
    (tmp_path / "y_a.jpg").write_bytes(b"2")
    planned = plan(
        sources("y.jpg", "y_a.jpg", root=tmp_path),
        tmp_path,
        template="{stem}_a{ext}",
        fields=FIELDS,
    )
    assert planned[1].target == tmp_path / "y_a_a.jpg"
    assert planned[0].target.name.startswith("y_a_")
    assert planned[0].target != tmp_path / "y_a.jpg"


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_partition_the_files(count):
    names = [f"folder{i % 5}/image{i}.jpg" for i in range(300)]
    every = sources(*names)
    seen: list[PurePosixPath] = []
    for k in range(1, count + 1):
        seen += [
            p.source.relative for p in plan(every, Path("/o"), fields=FIELDS, shard=(k, count))
        ]
    assert sorted(map(str, seen)) == sorted(names)  # each file in exactly one shard
    if count > 1:
        sizes = [
            sum(shard_index(PurePosixPath(n), count) == k for n in names) for k in range(count)
        ]
        assert min(sizes) > 300 / count / 2  # and the split is not lopsided


def test_shard_index_is_a_pure_function_of_the_path():
    assert shard_index(PurePosixPath("a/b.jpg"), 4) == shard_index(PurePosixPath("a/b.jpg"), 4)
    assert {shard_index(PurePosixPath(f"{i}.jpg"), 4) for i in range(50)} == {0, 1, 2, 3}


@pytest.mark.parametrize("text", ["0/4", "5/4", "1", "a/b", "1/0", "2/1"])
def test_bad_shard_is_a_usage_error(text):
    with pytest.raises(UserError, match="--shard"):
        parse_shard(text)


def test_good_shard():
    assert parse_shard("3/8") == (3, 8)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{stem}{colour}{ext}", "unknown field"),
        ("{stem}.png", "must end with"),
        ("{stem{ext}", "--name"),
    ],
)
def test_bad_templates(template, problem):
    with pytest.raises(UserError, match=problem):
        check_template(template)


def test_template_cannot_escape_the_folder(tmp_path):
    with pytest.raises(UserError, match="not a name"):
        plan(sources("a.jpg"), tmp_path, template="../{stem}{ext}", fields=FIELDS)
