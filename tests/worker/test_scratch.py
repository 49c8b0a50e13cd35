"""Per-user scratch folders (worker/scratch.py) and the digest cache in them, without Blender.

Issue #13: the digest cache was one shared file in the system temp folder that another local
user could create first and poison; work folders were world-readable. Each test uses its own
temp folder as the "system temp" (tempfile.tempdir), so pre-created folders there play the other
user.
"""

import hashlib
import json
import os
import stat
import tempfile

import pytest

from tests.fixtures.addon import lipsync

OTHER_UID = 65534   # "nobody"


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    module = lipsync("worker.scratch")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module.forget()
    yield module
    module.forget()


def _own_name(module):
    return os.path.join(tempfile.gettempdir(), module.PREFIX + str(os.getuid()))


def _private(path):
    info = os.lstat(path)
    return stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()


def test_folders_are_made_0700_and_ours(scratch):
    root = scratch.root()
    assert root == _own_name(scratch)
    work = scratch.folder("work")
    unsaved = scratch.folder("unsaved", "abc123")
    for path in (root, work, unsaved, os.path.dirname(unsaved)):
        assert _private(path), (path, oct(os.lstat(path).st_mode))
    assert os.path.dirname(work) == root
    with pytest.raises(ValueError):
        scratch.folder("..")
    with pytest.raises(ValueError):
        scratch.folder("a/b")


def test_a_world_writable_folder_of_that_name_is_not_used(scratch):
    planted = _own_name(scratch)
    os.mkdir(planted)
    os.chmod(planted, 0o777)
    root = scratch.root()
    assert root != planted and _private(root)
    assert os.path.dirname(root) == tempfile.gettempdir()
    assert stat.S_IMODE(os.lstat(planted).st_mode) == 0o777      # left alone, nothing written in it
    assert os.listdir(planted) == []


def test_a_folder_of_another_user_is_not_used(scratch, monkeypatch):
    planted = _own_name(scratch)
    os.mkdir(planted, 0o700)
    if os.getuid() == 0:
        os.chown(planted, OTHER_UID, OTHER_UID)                  # really someone else's
    else:
        monkeypatch.setattr(scratch, "_uid", lambda: os.getuid() + 1)   # we play the other user
        planted = os.path.join(tempfile.gettempdir(), scratch.PREFIX + str(os.getuid() + 1))
        os.rename(_own_name(scratch), planted)
    assert scratch.problem(planted).startswith("belongs to another user")
    root = scratch.root()
    assert root != planted and os.lstat(root).st_uid == os.getuid()


def test_a_symlink_of_that_name_is_not_followed(scratch, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    os.chmod(elsewhere, 0o700)
    os.symlink(elsewhere, _own_name(scratch))
    root = scratch.root()
    assert root != _own_name(scratch) and _private(root)
    assert scratch.problem(_own_name(scratch)) == "is not a plain folder"


def test_a_folder_removed_later_is_made_again_or_refused_when_someone_else_made_it(scratch):
    root = scratch.root()
    os.rmdir(root)                                   # a temp cleaner
    assert scratch.folder("work") == os.path.join(root, "work") and _private(root)
    os.rmdir(os.path.join(root, "work"))
    os.rmdir(root)
    os.mkdir(root)
    os.chmod(root, 0o777)                            # ... and someone else got there first
    work = scratch.folder("work")
    assert os.path.dirname(work) != root and _private(os.path.dirname(work)) and _private(work)
    assert os.listdir(root) == []


def test_digest_cache_lives_in_the_private_folder_and_a_planted_one_is_ignored(scratch, tmp_path, monkeypatch):
    fingerprint = lipsync("worker.fingerprint")
    monkeypatch.setattr(fingerprint, "_digests", {})
    monkeypatch.setattr(fingerprint, "_loaded", False)
    media = tmp_path / "media"
    media.mkdir()
    clip = media / "clip.mp4"
    clip.write_bytes(b"the artist's footage")
    st = os.stat(clip)
    # another user got there first: a world-writable folder with a digest that lies about the clip
    planted = _own_name(scratch)
    os.mkdir(planted)
    os.chmod(planted, 0o777)
    lie = "0" * 64
    with open(os.path.join(planted, fingerprint.STORE_NAME), "w") as handle:
        json.dump([[str(clip), st.st_size, st.st_mtime_ns, lie]], handle)

    assert fingerprint.known_digest(str(clip)) is None
    digest = fingerprint.file_digest(str(clip))
    assert digest == hashlib.sha256(b"the artist's footage").hexdigest() != lie
    store = fingerprint.store_path()
    assert os.path.dirname(store) == scratch.root() != planted and _private(os.path.dirname(store))
    with open(store) as handle:
        assert [row[3] for row in json.load(handle)] == [digest]
    assert not os.path.exists(os.path.join(tempfile.gettempdir(), "vse_lipsync_hashes.json"))


def test_rows_of_the_wrong_shape_in_our_store_are_skipped(scratch, tmp_path, monkeypatch):
    fingerprint = lipsync("worker.fingerprint")
    monkeypatch.setattr(fingerprint, "_digests", {})
    monkeypatch.setattr(fingerprint, "_loaded", False)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    st = os.stat(clip)
    with open(fingerprint.store_path(), "w") as handle:
        json.dump([[str(clip), st.st_size, st.st_mtime_ns, {"not": "a digest"}]], handle)
    assert fingerprint.known_digest(str(clip)) is None
