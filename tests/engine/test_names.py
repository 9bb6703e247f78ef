"""The one name rule, the data-folder check on its own, and a scan that finds every engine
path built from text without that check."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine.names import (
    InvalidNameError,
    OutsideDataFolderError,
    check_name,
    check_version,
    inside,
    parse_model_ref,
)

ENGINE = Path(__file__).resolve().parents[2] / "engine"


@pytest.mark.parametrize("name", ["nature", "nature-edges", "a", "x_1", "9" * 64])
def test_good_names_pass(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Nature", "../x", "a/b", "/tmp/x", "-x", "_x", "a\x00b", "x" * 65, "é", None, 3]
)
def test_bad_names_are_refused_with_the_rule(name: object) -> None:
    with pytest.raises(InvalidNameError, match="dataset name must be 1-64 lowercase") as caught:
        check_name(name, "dataset")
    assert isinstance(caught.value, ValueError) and len(str(caught.value)) < 160


def test_versions_and_model_refs() -> None:
    assert check_version("3") == 3 and check_version(7) == 7
    for bad in ("0", "-1", "1.5", "²", "1234567", "", True, 0):
        with pytest.raises(InvalidNameError, match="model version"):
            check_version(bad)
    assert parse_model_ref("nature") == ("nature", None)
    assert parse_model_ref("nature@2") == ("nature", 2)
    for bad in ("nature@", "nature@x", "../x@1", "@1"):
        with pytest.raises(InvalidNameError):
            parse_model_ref(bad)


# ---- the second line of defence, on its own -----------------------------------------------
def test_inside_keeps_paths_under_their_root(tmp_path: Path) -> None:
    assert inside(tmp_path, "runs-a") == tmp_path.resolve() / "runs-a"
    assert inside(tmp_path, "a", "b.pt") == tmp_path.resolve() / "a" / "b.pt"
    for parts in (("..",), ("../escape",), ("/tmp/escape",), ("a", "../../x"), ("",), ()):
        with pytest.raises(OutsideDataFolderError, match="outside the data folder"):
            inside(tmp_path, *parts)


def test_inside_follows_symlinks_before_it_judges(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "link").symlink_to(elsewhere)
    with pytest.raises(OutsideDataFolderError):
        inside(root, "link")
    with pytest.raises(OutsideDataFolderError):
        inside(root, "link", "model.pt")


# ---- every path the engine builds from text goes through `inside` ---------------------------
PATHISH = ("dir", "folder", "path", "root", "directory")
# Joins reviewed by hand: what they join is the engine's own text, not a request's.
REVIEWED = {
    ("datasets/store.py", "folder / entry.file"),  # a manifest entry: images/<sha256>.png
    ("datasets/store.py", "self.folder / relative"),  # images/<sha256 of the pixels>.png
    ("training/trainer.py", "self.run_dir / 'samples' / f'step-{self.step:07d}.png'"),
    ("training/detail.py", "self.run_dir / 'samples' / f'step-{self.step:07d}.png'"),  # a number
}


def _constant(node: ast.expr) -> bool:
    """A literal, an UPPER_CASE constant, or an f-string of those and numbers' formats."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id.isupper()
    if isinstance(node, ast.Attribute):
        return node.attr.isupper()
    return False


def _looks_like_a_path(node: ast.expr) -> bool:
    text = ast.unparse(node).lower()
    last = text.rsplit(".", 1)[-1]
    return any(word in last for word in PATHISH)


def unchecked_joins(source: str) -> list[str]:
    """Every `path / text` in `source` not made inside a call to `inside(...)`."""
    tree = ast.parse(source)
    checked: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("inside"):
            checked |= {id(inner) for arg in node.args for inner in ast.walk(arg)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
            continue
        if id(node) in checked or _constant(node.right) or not _looks_like_a_path(node.left):
            continue
        found.append(ast.unparse(node))
    return found


def test_the_scan_finds_a_join_without_the_check() -> None:
    assert unchecked_joins("run = self.runs_folder() / config.model_name") == [
        "self.runs_folder() / config.model_name"
    ]
    assert unchecked_joins("path = directory / f'{name}-v{version}.pt'") != []
    assert unchecked_joins("run = inside(self.runs_folder(), config.model_name)") == []
    assert unchecked_joins("path = folder / MANIFEST_NAME") == []
    assert unchecked_joins("ratio = total / count") == []


def test_no_engine_path_is_built_from_text_without_the_data_folder_check() -> None:
    found = {
        (str(path.relative_to(ENGINE)), join)
        for path in ENGINE.rglob("*.py")
        if "bundled" not in path.parts
        for join in unchecked_joins(path.read_text())
    }
    assert found - REVIEWED == set()
    assert REVIEWED - found == set(), "a reviewed join is gone: drop it from REVIEWED"
