"""The original store: content-addressed, write-once, behind one small interface.

Two backends: ``LocalStore`` (a folder; temp file → fsync → link → fsync folder, read-only
once written) and ``S3Store`` (in ``archive/s3.py``). Both hash every byte they store and
refuse to keep anything whose SHA-256 is not the one the caller expects — with one exception:
``LocalStore.put_file(..., trusted=True)`` for a file it can hard-link (same disk), whose bytes
the caller, in this process, hashed as it wrote them (the embedded station). It is then stored
without a second read (``StoredObject.rehashed`` is False) and the caller must have the
archive's independent check done later (``archive.fixity``, once the page cache let go).
"""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from archive.errors import DigestMismatch, ObjectMissing, StoreError, StoreFull
from hashing.digest import CHUNK, Digest
from liuhen.config import Settings
from liuhen.durable import fsync_path, private_dir
from liuhen.words import Said, said

NAMESPACES = ("originals", "derived", "records")


def key_for(digest: Digest, namespace: str = "originals") -> str:
    """Where content lives: originals (evidence as offloaded), derived files (proxies,
    thumbnails) and text records (执法文书, each version) are kept apart, all addressed by SHA-256."""
    if namespace not in NAMESPACES:
        raise ValueError(namespace)
    h = digest.hex
    return f"{namespace}/sha256/{h[:2]}/{h[2:4]}/{h}"


@dataclass(frozen=True)
class StoredObject:
    key: str
    digest: Digest
    size: int
    version: str | None
    created: bool  # False when the content was already there
    rehashed: bool = True  # False: stored on the caller's in-process digest (``trusted``), not re-read


@dataclass(frozen=True)
class LockState:
    """An object's Object Lock as the store reports it (a store without Object Lock: all off).

    ``retain_until`` is the date as set, even where it has passed; ``mode`` is ``COMPLIANCE`` or
    ``GOVERNANCE`` (None where no retention was ever set)."""

    legal_hold: bool
    retain_until: datetime | None
    mode: str | None


NO_LOCK = LockState(False, None, None)


class OriginalStore(Protocol):
    name: str

    def put_file(self, src: Path, digest: Digest, size: int, *, consume: bool = False,
                 namespace: str = "originals", trusted: bool = False) -> StoredObject:
        """Store the file at ``src`` under its digest, re-hashing every byte on the way.

        Raises ``DigestMismatch`` (and keeps nothing) if the bytes do not hash to ``digest``.
        Returns the existing object, untouched, if this content is already stored.
        ``consume`` lets a backend take the file over instead of copying it (same disk).
        ``trusted`` (with ``consume``): ``digest`` was computed in this process over the very
        bytes written to ``src``; a backend that takes the file over without copying may then
        skip its re-read (``StoredObject.rehashed`` says whether it re-hashed).
        """

    def head(self, digest: Digest, namespace: str = "originals") -> StoredObject | None: ...

    def open(self, key: str, version: str | None = None) -> BinaryIO: ...

    def open_range(self, key: str, version: str | None, start: int, length: int) -> BinaryIO:
        """``length`` bytes from ``start`` (for HTTP Range: seeking in a browser's player)."""
        ...

    def describe(self) -> str: ...

    # ---- disposal (retention): each raises ``StoreError`` when the store cannot be reached or used

    def ping(self) -> None:
        """Raise ``StoreError`` (saying where the store is and what to check) unless the store can be
        used right now. Asked before a disposal run, so that an unreachable store marks nothing destroyed."""
        ...

    def exists(self, key: str) -> bool:
        """Whether any bytes remain under ``key`` (a full key, as in ``StoredObject.key``): on a
        versioned bucket any version that is not a delete marker counts."""
        ...

    def destroy(self, key: str) -> int:
        """Remove every byte stored under ``key`` (a full key, as in ``StoredObject.key``): on S3 every
        version and every delete marker of exactly that key. Returns how many objects/versions were
        removed; 0 when nothing was there, so a second call (after a crash) is safe.

        Raises ``ObjectLocked`` when an Object Lock still in force refuses it (never bypassed), and
        ``StoreError`` when the store cannot be reached or refuses for another reason."""
        ...

    # ---- Object Lock mirroring (a store without Object Lock: no-ops)

    def supports_lock(self) -> bool: ...

    def set_legal_hold(self, key: str, version: str | None, on: bool) -> None: ...

    def extend_retention(self, key: str, version: str | None, until: datetime) -> datetime | None:
        """Make the object's retain-until date at least ``until``, never shorter. Returns the date now
        in force (as read back), None where the store has no Object Lock."""
        ...

    def lock_state(self, key: str, version: str | None) -> LockState: ...


def _raise_os(e: OSError, where: Path, what: str) -> None:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        raise StoreFull(said(f"位于 {where} 的原始文件存储已满；{what}未存储", f"The original store at {where} is full; {what} was not stored."),
                        said("请释放磁盘空间或增加存储，然后重新采集：没有丢失任何内容，文件在存储前一直保留在采集站上。", "Free disk space or add storage, then run the offload again: nothing was lost, "
                             "the file stays on the station until it is stored.")) from e
    raise StoreError(said(f"向位于 {where} 的原始文件存储写入{what}失败：{e.strerror}", f"Writing {what} to the original store at {where} failed: {e.strerror}."),
                     said("请检查磁盘及其权限，然后重新采集。", "Check the disk and its permissions, then run the offload again.")) from e


class LocalStore:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return f"local:{self.root}"

    def path_of(self, key: str) -> Path:
        return self.root / key

    def _safe_path(self, key: str, doing: Said) -> Path:
        """``path_of`` for a key that is about to be deleted: it must name a file inside the store."""
        if any(p in ("", ".", "..") for p in key.split("/")) or "\\" in key or "\0" in key:
            raise StoreError(said(f"拒绝{doing.zh}原始文件存储（{self.root}）中的 {key!r}：它不是本存储的键",
                                  f"Refused {doing.en} {key!r} in the original store at {self.root}: it is not a key "
                                  "of this store."), said("请核对该条目记录的存储键；未删除任何内容。", "Check the store key recorded for this item; nothing was deleted."))
        return self.path_of(key)

    def _root_missing(self, doing: Said) -> StoreError | None:
        """A ``StoreError`` when the store's folder itself is not there (a disk not mounted): then an
        absent file proves nothing."""
        try:
            if self.root.is_dir():
                return None
        except OSError as e:
            return StoreError(said(f"无法读取原始文件存储 {self.root}（{doing.zh}时）：{e.strerror or e}",
                                   f"The original store at {self.root} cannot be read ({doing.en}): {e.strerror or e}."),
                              said("请检查其磁盘是否已挂载且可读，然后重试。", "Check that its disk is mounted and readable, then try again."))
        return StoreError(said(f"原始文件存储 {self.root} 不存在（{doing.zh}时）",
                               f"The original store at {self.root} is not there ({doing.en})."),
                          said("请检查其磁盘是否已挂载（配置文件中的 archive.store_path），然后重试。", "Check that its disk is mounted (archive.store_path in the config file), then try again."))

    # ------------------------------------------------------------------ disposal

    def ping(self) -> None:
        """The store's folder exists, and a file can be created and removed in it."""
        problem = self._root_missing(said("检查其是否可用", "checking that it can be used"))
        if problem is not None:
            raise problem
        probe = self.root / f".ping.{uuid.uuid4().hex}.tmp"  # (a leftover is swept like any temp file)
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise StoreError(said(f"无法写入位于 {self.root} 的原始文件存储：{e.strerror or e}", f"The original store at {self.root} cannot be written: {e.strerror or e}."),
                             said("请检查其磁盘是否以读写方式挂载、未满，且服务账户可写入该文件夹，然后重试。", "Check that its disk is mounted read-write, is not full, and that the service's "
                                  "account may write the folder, then try again.")) from e

    def exists(self, key: str) -> bool:
        try:
            os.stat(self.path_of(key))
            return True
        except FileNotFoundError:
            problem = self._root_missing(said(f"查找 {key}", f"looking for {key}"))
            if problem is not None:
                raise problem from None
            return False
        except OSError as e:
            raise StoreError(said(f"在位于 {self.root} 的原始文件存储中查找 {key} 失败：{e.strerror or e}", f"Looking for {key} in the original store at {self.root} failed: {e.strerror or e}."),
                             said("请检查磁盘及其权限，然后重试。", "Check the disk and its permissions, then try again.")) from e

    def destroy(self, key: str) -> int:
        """Unlink the file (read-only files go too: it is the folder that must be writable) and make
        the removal durable (fsync of its folder). Empty fan-out folders are left in place."""
        path = self._safe_path(key, said("销毁", "to destroy"))
        try:
            os.unlink(path)
        except FileNotFoundError:
            problem = self._root_missing(said(f"销毁 {key}", f"destroying {key}"))
            if problem is not None:
                raise problem from None
            return 0
        except OSError as e:
            raise StoreError(said(f"在位于 {self.root} 的原始文件存储中销毁 {key} 失败：{e.strerror or e}；它仍在存储中", f"Destroying {key} in the original store at {self.root} failed: {e.strerror or e}; "
                                  "it is still stored."),
                             said("请检查服务账户可写入该文件夹且磁盘以读写方式挂载，然后重新执行销毁。", "Check that the service's account may write that folder and that the disk is "
                                  "mounted read-write, then run the disposal again.")) from e
        try:
            fsync_path(path.parent)
        except OSError as e:
            raise StoreError(said(f"{key} 已从位于 {self.root} 的原始文件存储中移除，但其文件夹无法同步到磁盘：{e.strerror or e}；断电后它可能重新出现", f"{key} was removed from the original store at {self.root}, but its folder could not "
                                  f"be synced to disk: {e.strerror or e}; after a power cut it may come back."),
                             said("请检查磁盘，然后重新执行销毁（会完成剩余部分）。", "Check the disk, then run the disposal again (it finishes what is left).")) from e
        return 1

    # ------------------------------------------------------------------ Object Lock (none on a folder)

    def supports_lock(self) -> bool:
        return False

    def set_legal_hold(self, key: str, version: str | None, on: bool) -> None:
        """A folder has no legal holds: nothing to mirror (the archive's own hold is what protects it)."""
        return None

    def extend_retention(self, key: str, version: str | None, until: datetime) -> datetime | None:
        """A folder has no retention dates: None."""
        return None

    def lock_state(self, key: str, version: str | None) -> LockState:
        return NO_LOCK

    def head(self, digest: Digest, namespace: str = "originals") -> StoredObject | None:
        key = key_for(digest, namespace)
        try:
            st = self.path_of(key).stat()
        except FileNotFoundError:
            return None
        return StoredObject(key, digest, st.st_size, None, created=False)

    def open(self, key: str, version: str | None = None) -> BinaryIO:
        try:
            return open(self.path_of(key), "rb")
        except FileNotFoundError as e:
            raise ObjectMissing(said(f"存储的原始文件 {key} 在 {self.root} 中不见了", f"The stored original {key} is missing from {self.root}."),
                                said("请从备份恢复；运行 liuhen verify 可列出所有缺失的原始文件。", "Restore it from backup; run `liuhen verify` to list every missing original.")) from e

    def open_range(self, key: str, version: str | None, start: int, length: int) -> BinaryIO:
        f = self.open(key, version)
        f.seek(start)
        return f

    def put_file(self, src: Path, digest: Digest, size: int, *, consume: bool = False,
                 namespace: str = "originals", trusted: bool = False) -> StoredObject:
        key = key_for(digest, namespace)
        final = self.path_of(key)
        existing = self.head(digest, namespace)
        if existing is not None:
            if existing.size != size:
                raise StoreError(said(f"存储中已有 {key}，大小为 {existing.size} 字节，而不是 {size} 字节", f"The store already holds {key} with {existing.size} bytes, not {size}."),
                                 said("请立即运行 liuhen verify：存储的原始文件可能已损坏。", "Run `liuhen verify` now: the stored original may be damaged."))
            return replace(existing, rehashed=False)  # the bytes offered were not read: nothing was stored
        folder = final.parent
        try:
            private_dir(folder)
        except OSError as e:
            _raise_os(e, folder, src.name)
        tmp = folder / f".{digest.hex}.{uuid.uuid4().hex}.tmp"
        try:
            linked = False
            if consume:
                try:
                    os.link(src, tmp)
                    linked = True
                except OSError:
                    linked = False
            rehashed = True
            if linked and trusted:
                # the same inode the caller just wrote and hashed, in this process: reading it back
                # now would hash the page cache, not the disk; the independent check comes later
                got, n, rehashed = digest, os.stat(tmp).st_size, False
            elif linked:
                got, n = self._hash(tmp)
            else:
                got, n = self._copy(src, tmp)
            if got != digest or n != size:
                raise DigestMismatch(
                    said(f"收到的 {src.name} 内容哈希为 {got.hex}（{n} 字节），而不是清单所记的 {digest.hex}（{size} 字节）；档案库已拒收", f"The received bytes of {src.name} hash to {got.hex} ({n} bytes), not to the "
                         f"manifest's {digest.hex} ({size} bytes); the archive refused it."),
                    said("副本在传输中损坏：请从记录仪重新采集该文件。", "The copy was damaged on the way: offload the file again from the recorder."))
            os.chmod(tmp, 0o400)  # read-only, and only for the service's account
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, final)  # never overwrites: fails if the content arrived meanwhile
                created = True
            except FileExistsError:
                created = False
            fsync_path(folder)
        except OSError as e:
            _raise_os(e, self.root, src.name)
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        return StoredObject(key, digest, size, None, created=created, rehashed=rehashed)

    @staticmethod
    def _hash(path: Path) -> tuple[Digest, int]:
        from hashing.digest import hash_file

        return hash_file(path)

    @staticmethod
    def _copy(src: Path, dst: Path) -> tuple[Digest, int]:
        h = hashlib.sha256()
        n = 0
        with open(src, "rb", buffering=0) as fi, \
                open(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb", buffering=0) as fo:
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while True:
                k = fi.readinto(buf)
                if not k:
                    break
                h.update(view[:k])
                done = 0
                while done < k:  # a raw write may be short (e.g. a disk filling up): the next one raises
                    done += fo.write(view[done:k])
                n += k
            os.fsync(fo.fileno())
        return Digest(h.hexdigest()), n

    def sweep_temps(self, older_than_s: float = 3600.0) -> int:
        """Remove temp files left by a crash mid-write (they were never counted as stored).

        Only old ones: a temp file younger than ``older_than_s`` may belong to a write still
        running in another process.
        """
        import time

        removed = 0
        if not self.root.exists():
            return 0
        cutoff = time.time() - older_than_s
        for p in self.root.rglob(".*.tmp"):
            try:
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def open_store(settings: Settings) -> OriginalStore:
    if settings.archive.store == "s3":
        from archive.s3 import S3Store

        return S3Store.from_settings(settings.s3)
    return LocalStore(settings.archive.store_path)


__all__ = ["NO_LOCK", "LocalStore", "LockState", "OriginalStore", "StoredObject", "key_for", "open_store"]
