"""The on-disk layout of heatcheck's zarr stores: the only module that knows it.

A dataset store ``results/{dataset}/images.zarr`` is a zarr group with one subgroup per split
(``train``, ``eval``), each holding ``images`` (N, C, H, W) float32 in [0, 1], ``labels`` (N,)
int64, ``ids`` (N,) str, and where the kind has them ``boxes`` (N, K, 4) int32 and ``masks``
(N, H, W) bool. Group attributes: ``class_names``, ``mean``, ``std``, ``kind``, ``complete``.

Stores are written to a temporary sibling and renamed into place, and carry ``complete: true``
only once everything is written: a store without it is from an interrupted run and is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import zarr

from . import HeatcheckError, __version__


def file_checksum(path) -> str:
    """SHA-256 of a file (checkpoint provenance in saliency attributes)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def written(path, mode: str = "wb"):
    """A file handle for writing ``path`` in one step: the content goes to a temporary sibling,
    renamed into place when the block ends, and removed when it fails. A job killed while it
    writes leaves no half-written output under the output's name (Snakemake's own record of
    unfinished jobs misses some after a kill: a half-written score shard was read as finished)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def file_stamp(path) -> tuple:
    """What tells a file rewritten from the one read before: its resolved path, inode, mtime and
    size (``OSError`` when it is missing). Outputs are written as new files (:func:`written`)."""
    path = Path(path)
    st = path.stat()
    return str(path.resolve()), st.st_ino, st.st_mtime_ns, st.st_size


class Recent:
    """The ``keep`` most recently used results of a read, per process and thread-safe: what the
    jobs running as threads of one process read once (a store, a shard's rows and maps, a
    checkpoint), keyed by what identifies the files read (:func:`file_stamp`)."""

    def __init__(self, keep: int):
        self.keep = keep
        self._values: dict = {}
        self._lock = threading.Lock()

    def get(self, key, make):
        """The value for ``key``; ``make()`` reads it on the first call (under the lock, so that
        jobs asking at once share one read)."""
        with self._lock:
            value = self._values.pop(key) if key in self._values else make()
            self._values[key] = value  # most recently used last
            while len(self._values) > self.keep:
                self._values.pop(next(iter(self._values)))
            return value


def _tmp_path(path: Path) -> Path:
    return path.with_name(path.name + f".tmp-{os.getpid()}")


def _replace(tmp: Path, path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)


def write_dataset(path, loaded, kind: str, chunk: int = 64) -> None:
    """Write a :class:`heatcheck.data.Loaded` as a dataset store at ``path`` (atomically)."""
    path = Path(path)
    tmp = _tmp_path(path)
    if tmp.exists():
        shutil.rmtree(tmp)
    root = zarr.open_group(str(tmp), mode="w")
    for name, split in loaded.splits.items():
        g = root.create_group(name)
        n, c, h, w = split.images.shape
        g.create_array("images", data=split.images, chunks=(min(chunk, n), c, h, w))
        g.create_array("labels", data=split.labels)
        ids = g.create_array("ids", shape=(n,), dtype=str)
        ids[:] = np.array(split.ids, dtype=object)
        if split.boxes is not None:
            g.create_array("boxes", data=np.asarray(split.boxes, dtype=np.int32))
        if split.masks is not None:
            g.create_array("masks", data=split.masks.astype(bool), chunks=(min(chunk, n), h, w))
    root.attrs.update({
        "kind": kind,
        "class_names": list(loaded.class_names),
        "mean": list(loaded.mean),
        "std": list(loaded.std),
        "heatcheck_version": __version__,
        **{k: v for k, v in loaded.attrs.items()},
    })
    root.attrs["complete"] = True
    _replace(tmp, path)


class Rows:
    """Rows ``start:stop`` of one split read into memory: ``images``, ``labels``, ``ids``, and
    ``boxes``/``masks`` where the kind has them (else None). The arrays are read-only: one read
    serves every job of the shard in a process (:meth:`SplitView.rows`)."""

    __slots__ = ("start", "stop", "images", "labels", "ids", "boxes", "masks")

    def __init__(self, view: "SplitView", start: int, stop: int):
        self.start, self.stop = start, stop
        self.images = _frozen(view.images[start:stop])
        self.labels = _frozen(view.labels[start:stop])
        self.ids = view.ids[start:stop]
        self.boxes = None if view.boxes is None else _frozen(view.boxes[start:stop])
        self.masks = None if view.masks is None else _frozen(view.masks[start:stop])


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


class SplitView:
    """Lazy access to one split of a dataset store (zarr arrays, read on indexing; :meth:`rows`
    and :attr:`ids` read once per view and keep what they read)."""

    #: how many row ranges a view keeps (a process runs the jobs of a few shards at a time)
    KEEP_ROWS = 8

    def __init__(self, group: zarr.Group, where: str):
        self.group, self.where = group, where
        self.images = group["images"]
        self.labels = group["labels"]
        self.boxes = group["boxes"] if "boxes" in group else None
        self.masks = group["masks"] if "masks" in group else None
        self._ids = self._labels = None
        self._rows = Recent(self.KEEP_ROWS)

    @property
    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = tuple(str(v) for v in self.group["ids"][:])
        return list(self._ids)

    @property
    def all_labels(self) -> np.ndarray:
        """Every image's label (read-only), read once."""
        if self._labels is None:
            self._labels = _frozen(self.labels[:])
        return self._labels

    def rows(self, start: int, stop: int) -> Rows:
        """Rows ``start:stop`` in memory, read on the first call for that range."""
        key = (int(start), int(stop))
        return self._rows.get(key, lambda: Rows(self, *key))

    def __len__(self) -> int:
        return self.images.shape[0]


class DatasetStore:
    """A dataset store opened for reading.

    Parameters
    ----------
    path : path of ``images.zarr``

    Raises
    ------
    HeatcheckError
        If the store is missing or was not completely written.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise HeatcheckError(f"dataset store {self.path} does not exist")
        try:
            self.root = zarr.open_group(str(self.path), mode="r")
        except Exception as exc:  # zarr raises several types for damaged stores
            raise HeatcheckError(f"dataset store {self.path} is unreadable: {exc}") from exc
        if not self.root.attrs.get("complete", False):
            raise HeatcheckError(f"dataset store {self.path} is incomplete (interrupted write); delete it and rerun")
        attrs = self.root.attrs
        self.kind = attrs["kind"]
        self.class_names = list(attrs["class_names"])
        self.mean = np.asarray(attrs["mean"], dtype=np.float32)
        self.std = np.asarray(attrs["std"], dtype=np.float32)
        self._views: dict[str, SplitView] = {}
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, path) -> "DatasetStore":
        """The store at ``path`` opened once per process and shared by the jobs that run in it
        (threads of Snakemake's process): the jobs of one shard then read its images, ids, boxes
        and masks once (:meth:`SplitView.rows`), not once per explainer and metric. A store
        written again (:func:`write_dataset` renames a new one into place) is opened afresh."""
        try:
            key = file_stamp(Path(path) / "zarr.json")
        except OSError:
            return cls(path)  # missing or damaged: the constructor names the problem
        return _SHARED.get(key, lambda: cls(path))

    def splits(self) -> list[str]:
        return sorted(k for k, _ in self.root.groups())

    def split(self, name: str) -> SplitView:
        with self._lock:
            if name not in self._views:
                if name not in self.root:
                    raise HeatcheckError(f"dataset store {self.path} has no split {name!r}; it has {self.splits()}")
                self._views[name] = SplitView(self.root[name], f"{self.path}:{name}")
            return self._views[name]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


#: the stores opened by :meth:`DatasetStore.shared` (a study has a few datasets)
_SHARED = Recent(4)


# --- saliency arrays ---------------------------------------------------------------------------
# results/{dataset}/saliency/{model}/{explainer}.zarr: one zarr array (N, H, W) float32, chunked by
# shard along N, filled with NaN until a shard job writes its slice. Attributes: the explainer's
# parameters, the checkpoint's checksum, the package version, the ``ids`` of the N images, and,
# once every shard is written, the seconds it took and ``complete: true``. A study that grows
# (more eval images) grows the array along N: the shard jobs of the new images resize it, the
# finished chunks stay.


def create_saliency(path, n: int, h: int, w: int, chunk: int, attrs: dict, copies: int | None = None) -> None:
    """Create an empty (NaN-filled) saliency array (N, H, W), or (N, copies, H, W) for maps of
    several transformed copies of each image, replacing any older one at ``path``."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    inner = (copies, h, w) if copies else (h, w)
    arr = zarr.create_array(str(path), shape=(n, *inner), chunks=(min(chunk, n), *inner), dtype="float32",
                            fill_value=float("nan"))
    arr.attrs.update({**attrs, "heatcheck_version": __version__, "complete": False})


def resize_saliency(path, ids: list[str]) -> None:
    """Make the array hold one map per image of ``ids`` (N = ``len(ids)``), keeping the chunks
    already written, and mark it not complete; nothing is written when it already does.

    The shape and attributes change in one atomic write of the array's metadata (``zarr.json``,
    whose ``shape`` and ``attributes`` the zarr v3 format defines): concurrent shard jobs of one
    run, which all resize to the same ``ids``, leave the same file whatever their order, and a
    reader sees the old metadata or the new, never a mix.
    """
    path = Path(path)
    meta_path = path / "zarr.json"
    meta = json.loads(meta_path.read_text())
    attrs = meta.setdefault("attributes", {})
    ids = [str(i) for i in ids]
    if meta["shape"][0] == len(ids) and attrs.get("ids") == ids and not attrs.get("complete", False):
        return
    meta["shape"][0] = len(ids)
    attrs.update({"ids": ids, "complete": False})
    with written(meta_path, "w") as fh:
        fh.write(json.dumps(meta, indent=2))


def write_saliency_shard(path, start: int, maps: np.ndarray, chunk: int, ids: list[str] | None = None) -> None:
    """Write ``maps`` at rows ``start:start+len(maps)``; ``start`` must be chunk-aligned, so that
    concurrent shard jobs never touch the same chunk file. With ``ids`` (the images of all rows),
    first resize the array to them (:func:`resize_saliency`)."""
    if start % chunk:
        raise ValueError(f"shard start {start} is not aligned to the chunk size {chunk}")
    if ids is not None:
        resize_saliency(path, ids)
    arr = zarr.open_array(str(path), mode="r+")
    if maps.shape[1:] != arr.shape[1:] or start + len(maps) > arr.shape[0]:
        raise HeatcheckError(f"saliency array {path} has shape {arr.shape}; cannot write maps of shape "
                             f"{maps.shape} at row {start} (stale array from an older run? delete it)")
    arr[start:start + len(maps)] = maps.astype(np.float32)


def _nonfinite_rows(data: np.ndarray) -> np.ndarray:
    """Which maps (rows) hold a NaN (never written) or infinite value."""
    return ~np.isfinite(data.reshape(len(data), -1)).all(axis=1)


def finalize_saliency(path, attrs: dict) -> None:
    """Check every row was written and finite, then mark the array complete."""
    arr = zarr.open_array(str(path), mode="r+")
    missing = _nonfinite_rows(arr[:])
    if missing.any():
        raise HeatcheckError(f"saliency array {path}: rows {np.flatnonzero(missing)[:10].tolist()} are "
                             f"missing or not finite; rerun their shards")
    arr.attrs.update({**attrs, "complete": True})


def saliency_name(marker) -> tuple[str, str]:
    """(model, explainer) of a completeness marker ``.../saliency/{model}/{explainer}.json``."""
    p = Path(marker)
    return p.parent.name, p.stem


def saliency_marker(path) -> Path:
    """The completeness marker ``{explainer}.json`` next to ``{explainer}.zarr`` (finalize_saliency's
    output: the file downstream rules depend on)."""
    return Path(path).with_suffix(".json")


def saliency_shard_reports(path) -> Path:
    """The folder ``{explainer}.shards`` of the shard jobs' reports (compute_saliency's outputs)."""
    return Path(path).with_suffix(".shards")


class DamagedFileError(HeatcheckError):
    """A result file or store that cannot be read as its writer wrote it: truncated, unreadable,
    chunk files missing, or lacking what its writer always writes."""


def damaged_file(path, what: str, problem: str, repair: bool) -> DamagedFileError:
    """The error for a damaged result ``path`` (a ``what``: "score shard", "score table", ...);
    with ``repair``, first remove it (a file, or a store's folder), so that the next Snakemake run
    recomputes it, and nothing else, from the files it was made from."""
    path = Path(path)
    if not repair:
        return DamagedFileError(f"{what} {path} is damaged: {problem}; delete it and rerun snakemake to "
                                f"recompute it")
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    return DamagedFileError(f"{what} {path} is damaged: {problem}; removed it: rerun snakemake to recompute it")


@contextmanager
def reading(path, what: str, repair: bool):
    """A block that reads ``path`` (a ``what``): an error raised there means the file is damaged
    (:func:`damaged_file`), as zip, zlib, json, pyarrow, pandas and zarr each raise their own types
    for a truncated or foreign file; but not our own errors, nor a lack of memory or permission,
    which say nothing of the file's content."""
    try:
        yield
    except (HeatcheckError, MemoryError, PermissionError):
        raise
    except Exception as exc:
        raise damaged_file(path, what, f"unreadable ({type(exc).__name__}: {exc})", repair) from exc


def check_exists(path, what: str) -> Path:
    """``path``, or an error naming it (e.g. removed as damaged by another job of the same run)."""
    path = Path(path)
    if not path.exists():
        raise HeatcheckError(f"{what} {path} does not exist; rerun snakemake to recompute it")
    return path


def missing_chunks(arr: zarr.Array, path) -> list[int]:
    """Indices along the first axis of the chunks of ``arr`` (stored at ``path``) whose files are
    missing: zarr would read them as the fill value without a word."""
    rest = (0,) * (arr.ndim - 1)
    return [k for k in range(arr.cdata_shape[0])
            if not (Path(path) / arr.metadata.encode_chunk_key((k, *rest))).is_file()]


def read_shard_report(path, repair: bool = True) -> dict:
    """A saliency shard job's report (``{explainer}.shards/{shard}.json``): ``start``, ``stop``,
    ``ids`` and ``targets`` of its images and the ``array`` it wrote them into. An unreadable
    report is damaged and (``repair``) removed, so that the next run recomputes its shard."""
    what = "saliency shard report"
    path = check_exists(path, what)
    with reading(path, what, repair), open(path) as fh:
        return json.load(fh)


#: rows of saliency arrays read by this process (:func:`shard_saliency`; the metrics of one
#: shard run one after another)
_SHARD_MAPS = Recent(8)


def shard_saliency(report_path, array_path, start: int, stop: int, shape: tuple, ids: list[str]) -> np.ndarray:
    """Rows ``start:stop`` of a saliency array, checked (:func:`open_saliency` with ``repair``)
    and read (:func:`read_saliency`) once per process for every metric that scores them: read
    again when the array's metadata or the shard's report (which its saliency job writes after
    the maps) is rewritten. The rows are read-only."""
    path = Path(array_path)

    def read():
        arr = open_saliency(path, shape=shape, ids=ids, repair=True, rows=(start, stop))
        return _frozen(read_saliency(arr, start, stop, repair=True))

    try:
        key = (file_stamp(path / "zarr.json"), file_stamp(report_path), int(start), int(stop), tuple(shape),
               hash(tuple(ids)))
    except OSError:
        return read()  # missing: open_saliency names it
    return _SHARD_MAPS.get(key, read)


class DamagedSaliencyError(DamagedFileError):
    """A finalized saliency array that changed on disk since: chunk files deleted or truncated,
    or an array of another shape (an older run's)."""


def _damaged(path: Path, problem: str, shards: list[int] | None, repair: bool) -> DamagedSaliencyError:
    """The error for a damaged array; with ``repair``, first remove what makes Snakemake recompute it:
    the completeness marker and the reports of the damaged ``shards`` (all of them, and the array
    itself, when ``shards`` is None)."""
    marker = saliency_marker(path)
    if not repair:
        return DamagedSaliencyError(f"saliency array {path} is damaged: {problem}; delete {marker} and "
                                    f"rerun snakemake to recompute it")
    marker.unlink(missing_ok=True)
    reports = saliency_shard_reports(path)
    if shards is None:
        shutil.rmtree(reports, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)
        redo = "the array and all its shard reports"
    else:
        for k in shards:
            (reports / f"{k}.json").unlink(missing_ok=True)
        redo = f"the reports of shards {shards} in {reports}"
    return DamagedSaliencyError(f"saliency array {path} is damaged: {problem}; removed its completeness "
                                f"marker {marker} and {redo}: rerun snakemake to recompute them")


def open_saliency(path, n: int | None = None, shape: tuple | None = None, ids: list[str] | None = None,
                  repair: bool = False, rows: tuple[int, int] | None = None) -> zarr.Array:
    """Open a saliency array for reading, checking it against expectations.

    Parameters
    ----------
    path : the ``{explainer}.zarr`` array
    n, shape : expected number of maps and shape of one map (or of the copies of one image)
    ids : the dataset's eval image ids; the array's ``ids`` must be their first ``N``
    repair : on damage (see Raises), remove the completeness marker and the damaged shards'
        reports, so that the next Snakemake run recomputes them (the workflow's readers do this)
    rows : read only rows ``start:stop`` (a score shard job): the array need not be complete
        (other shards may still be computing, e.g. of images a grown study added), only those
        rows and the shards with a report must be there

    Raises
    ------
    HeatcheckError
        If the array is missing or incomplete (interrupted run).
    DamagedSaliencyError
        If a finalized array is of the wrong shape or for other images (stale), or chunk files are
        missing (rows would read as NaN).
    """
    path = Path(path)
    if not path.exists():
        raise HeatcheckError(f"saliency array {path} does not exist")
    try:
        arr = zarr.open_array(str(path), mode="r")
    except Exception as exc:
        raise _damaged(path, f"unreadable ({exc})", None, repair) from exc
    complete = arr.attrs.get("complete", False)
    if not complete and rows is None:
        raise HeatcheckError(f"saliency array {path} is incomplete (some shards not written)")
    stale = None
    if n is not None and arr.shape[0] != n:
        stale = f"has {arr.shape[0]} maps, expected {n} (stale)"
    elif shape is not None and tuple(arr.shape[1:]) != tuple(shape):
        stale = f"has maps of shape {arr.shape[1:]}, expected {shape} (stale)"
    elif ids is not None and list(arr.attrs.get("ids", [])) != list(ids[:arr.shape[0]]):
        stale = f"holds maps of other images than the dataset's first {arr.shape[0]} (stale)"
    elif "ids" in arr.attrs and len(arr.attrs["ids"]) != arr.shape[0]:
        stale = f"has {arr.shape[0]} maps for {len(arr.attrs['ids'])} image ids"
    elif rows is not None and rows[1] > arr.shape[0]:
        stale = f"has {arr.shape[0]} maps, fewer than rows {rows[0]}-{rows[1] - 1} (stale)"
    if stale:
        raise _damaged(path, stale, None, repair)
    rest = (0,) * (arr.ndim - 1)
    chunk = arr.chunks[0]
    reports = saliency_shard_reports(path)
    # a complete array has all its chunks; one still being filled those of its finished shards
    # (a score shard job reading its rows needs only those and the finished shards': another
    # shard may be being recomputed beside it after a repair, its report removed)
    needed = range(arr.cdata_shape[0]) if complete and rows is None else sorted(
        {k for k in range(arr.cdata_shape[0]) if (reports / f"{k}.json").is_file()}
        | (set(range(rows[0] // chunk, -(-rows[1] // chunk))) if rows else set()))
    missing = [k for k in needed if not (path / arr.metadata.encode_chunk_key((k, *rest))).is_file()]
    if missing:
        raise _damaged(path, f"the chunk files of shards {missing} are missing", missing, repair)
    return arr


def read_saliency(arr: zarr.Array, start: int = 0, stop: int | None = None, repair: bool = False) -> np.ndarray:
    """Rows ``start:stop`` of an array from :func:`open_saliency`, refusing unreadable (truncated)
    chunk files and non-finite values (with ``repair``, invalidating the shards that hold them)."""
    stop = arr.shape[0] if stop is None else stop
    path = Path(arr.store.root) / arr.path
    chunk = arr.chunks[0]
    shards = list(range(start // chunk, -(-stop // chunk)))
    try:
        data = arr[start:stop]
    except Exception as exc:  # a truncated chunk fails to decompress
        raise _damaged(path, f"rows {start}-{stop - 1} are unreadable ({type(exc).__name__}: {exc})", shards,
                       repair) from exc
    bad = _nonfinite_rows(data)
    if bad.any():
        rows = (start + np.flatnonzero(bad)).tolist()
        raise _damaged(path, f"rows {rows[:10]} are not finite", sorted({r // chunk for r in rows}), repair)
    return data
