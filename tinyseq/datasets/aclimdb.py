"""Reading the labeled reviews of an aclImdb archive or folder: all of them, or an error.

A damaged dataset must never load as a smaller one, so nothing is returned before the whole
source has been read and checked, and every problem raises :class:`DatasetError` with a message
that names the file, says what is wrong and what to do:

- A ``.tar.gz`` (or ``.tar``) archive is read to its very end. gzip verifies its CRC and length
  only at the end of the stream, and ``tarfile`` treats a damaged or cut entry header as the end
  of the archive, quietly; so everything after the last entry must be the end-of-archive marker
  (at least two blocks of zero bytes), and each entry must hold as many bytes as its header says.
- The reviews are the ``<id>_<rating>.txt`` files of ``train/neg``, ``train/pos``, ``test/neg``
  and ``test/pos``; each must be UTF-8 text. Other files there are an error (a review under a
  name we would skip is a review lost), except hidden ones such as ``.DS_Store``.
- Counts. The official dataset, recognised by its archive name (``aclImdb_v1*``) or by its
  README, must hold exactly :data:`REVIEWS_PER_GROUP` reviews in each of the four folders
  (which also makes both splits balanced). Other data in aclImdb layout, such as your own
  reviews, may hold any counts, but every folder needs at least one review.
"""

import gzip
import re
import tarfile
import zlib

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
# Size and SHA-256 of the official archive, as published by dataset loaders that download it
# (Hugging Face's `imdb` dataset_infos.json; JuliaText/CorpusLoaders.jl, src/IMDB.jl).
ARCHIVE_SIZE = 84_125_825
ARCHIVE_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"

# The official dataset: this many reviews in each of train/neg, train/pos, test/neg, test/pos.
REVIEWS_PER_GROUP = 12_500

LABELS = ("neg", "pos")  # label 0, label 1
GROUPS = [(split, label) for split in ("train", "test") for label in (0, 1)]  # the review order
GROUP_NAMES = [f"{split}/{LABELS[label]}" for split, label in GROUPS]

_OFFICIAL_ARCHIVE_PREFIX = "aclImdb_v1"  # aclImdb_v1.tar.gz, or a repack like aclImdb_v1_labeled.tar.gz
_OFFICIAL_README_TITLE = b"Large Movie Review Dataset v1.0"
_IN_GROUP = re.compile(r"(?:^|/)(train|test)/(neg|pos)/([^/]+)$")
_REVIEW_NAME = re.compile(r"(\d+)_\d+\.txt")
_README = re.compile(r"(?:^|/)README$")
_GZIP_MAGIC = b"\x1f\x8b"
_END_OF_ARCHIVE = 2 * tarfile.BLOCKSIZE
_CHUNK = 1 << 20


class DatasetError(ValueError):
    """The data is incomplete, damaged or not in aclImdb layout; the message says what to do."""


def read_reviews(source, downloaded=False):
    """Reads and checks every labeled review of an aclImdb archive or folder.

    Args:
        source: A ``Path``: a ``.tar.gz``/``.tar`` archive, or a folder with ``train/`` and
            ``test/`` in aclImdb layout.
        downloaded: True if ``source`` is the archive ``load_data`` downloaded into its cache;
            the advice for a damaged archive is then to delete it (it is downloaded again).

    Returns:
        ``(reviews, official)``: ``reviews[split, label]`` is the list of review texts of that
        folder, sorted by the numeric ``<id>`` of their file names; ``official`` tells whether
        the source is the official dataset (and so passed the exact-count check).

    Raises:
        DatasetError: for any damage, missing part, unreadable file or wrong count.
    """
    if source.is_file():
        advice = _archive_advice(source, downloaded)
        files = _archive_files(source, advice)
    else:
        advice = f"Complete the folder (or, if it is the IMDB data, extract {ARCHIVE_NAME} from {URL} again)."
        files = _folder_files(source, advice)

    official = source.is_file() and source.name.startswith(_OFFICIAL_ARCHIVE_PREFIX)
    reviews = {group: [] for group in GROUPS}
    misnamed = []
    for name, data in files:
        if _README.search(name):
            official = official or (data is not None and data.startswith(_OFFICIAL_README_TITLE))
            continue
        split, label_name, file_name = _IN_GROUP.search(name).groups()
        review_name = _REVIEW_NAME.fullmatch(file_name)
        if data is None or not review_name:
            misnamed.append(name)
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DatasetError(f"{name} in {source} is not UTF-8 text ({error.reason} at byte {error.start}). "
                               f"Save it as UTF-8. {advice}") from None
        reviews[split, LABELS.index(label_name)].append((int(review_name[1]), text))

    if misnamed:
        more = f" and {len(misnamed) - 3:,} more" if len(misnamed) > 3 else ""
        raise DatasetError(f"{source} has files in its review folders that are not reviews named "
                           f"<id>_<rating>.txt: {', '.join(misnamed[:3])}{more}. Rename or remove them.")
    _check_counts(source, {group: len(texts) for group, texts in reviews.items()}, official, advice)
    return {group: [text for _, text in sorted(texts)] for group, texts in reviews.items()}, official


def check_official_counts(counts, where):
    """Raises DatasetError unless the four folder counts (in GROUPS order) are the official ones."""
    if any(count != REVIEWS_PER_GROUP for count in counts):
        raise DatasetError(f"{where} is the Large Movie Review Dataset, which has {REVIEWS_PER_GROUP:,} "
                           f"reviews in each of {', '.join(GROUP_NAMES)}, but it has {_counts_text(counts)}.")


def _check_counts(source, counts, official, advice):
    counts = [counts[group] for group in GROUPS]
    if official:
        try:
            check_official_counts(counts, source)
        except DatasetError as error:
            raise DatasetError(f"{error} {advice}") from None
    empty = [name for name, count in zip(GROUP_NAMES, counts) if count == 0]
    if empty:
        raise DatasetError(f"{source} has no reviews in {', '.join(empty)} (it has {_counts_text(counts)}); "
                           f"each of {', '.join(GROUP_NAMES)} needs at least one <id>_<rating>.txt file. {advice}")


def _counts_text(counts):
    return ", ".join(f"{name} {count:,}" for name, count in zip(GROUP_NAMES, counts))


def _archive_advice(path, downloaded):
    if downloaded:
        return f"Delete {path}: the next load downloads it again from {URL}."
    return (f"Download {ARCHIVE_NAME} again from {URL} and replace {path} with it "
            "(or, if it is an archive of your own reviews, create it again).")


def _wanted(name):
    """Review-folder entries (hidden ones aside) and the README."""
    match = _IN_GROUP.search(name)
    return bool(_README.search(name)) or bool(match and not match[3].startswith("."))


def _archive_files(path, advice):
    """Reads an archive to its end; returns ``(name, bytes)`` of the wanted entries (None: not a file)."""
    if path.stat().st_size == 0:
        raise DatasetError(f"The archive {path} is empty (0 bytes). {advice}")
    files = []
    opened = False  # a tar header was read: later errors are damage, not "not a tar archive"
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            with tarfile.open(fileobj=stream, mode="r:") as archive:
                opened = True
                # Skipped entries are still decompressed (and so CRC-checked) on the way to the next
                # one; an entry shorter than its header says raises "unexpected end of data".
                for member in archive:
                    if _wanted(member.name):
                        files.append((member.name, archive.extractfile(member).read() if member.isfile() else None))
                end = archive.offset  # where tarfile found no further entry
            _check_end_of_archive(stream, end, path, advice)
    except EOFError as error:
        raise DatasetError(f"The archive {path} is truncated ({error}). {advice}") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise DatasetError(f"The archive {path} is damaged (gzip: {error}). {advice}") from None
    except tarfile.ReadError as error:
        if str(error).startswith("zlib error"):  # tarfile's wording for a zlib error while reading a header
            raise DatasetError(f"The archive {path} is damaged (gzip: {error}). {advice}") from None
        if not opened:
            kind = ("a gzip file without a tar archive inside" if compressed
                    else "neither a .tar.gz nor a .tar archive")
            raise DatasetError(f"{path} is {kind} ({error}). {advice}") from None
        problem = "truncated" if "unexpected end of data" in str(error) else "damaged"
        raise DatasetError(f"The archive {path} is {problem} (tar: {error}). {advice}") from None
    except (tarfile.TarError, OSError) as error:
        raise DatasetError(f"Could not read the archive {path} ({type(error).__name__}: {error}). "
                           f"{advice}") from None
    return files


def _check_end_of_archive(stream, end, path, advice):
    """Reads from the last entry to the end of the stream: only zero bytes, at least the end marker.

    Reading to the end is also what makes gzip verify the CRC and length of the whole stream.
    """
    stream.seek(end)
    tail_size = 0
    while chunk := stream.read(_CHUNK):
        if chunk.count(0) != len(chunk):
            raise DatasetError(f"The archive {path} is damaged: the entry at byte {end:,} of its tar "
                               f"stream is not readable, so the entries after it are lost. {advice}")
        tail_size += len(chunk)
    if tail_size < _END_OF_ARCHIVE:
        raise EOFError(f"it ends after byte {end + tail_size:,} of its tar stream, without the "
                       "end-of-archive marker")


def _folder_files(folder, advice):
    """Returns ``(name, bytes)`` for the README and every visible entry of the four review folders."""
    missing = [name for name in GROUP_NAMES if not (folder / name).is_dir()]
    if missing:
        raise DatasetError(f"The folder {folder} is not a complete aclImdb folder: {', '.join(missing)} "
                           f"missing (expected {', '.join(GROUP_NAMES)}, each with <id>_<rating>.txt "
                           f"reviews). {advice}")
    files = []
    try:
        if (folder / "README").is_file():
            files.append(("README", (folder / "README").read_bytes()))
        for name in GROUP_NAMES:
            for entry in sorted((folder / name).iterdir()):
                if not entry.name.startswith("."):
                    files.append((f"{name}/{entry.name}", entry.read_bytes() if entry.is_file() else None))
    except OSError as error:
        raise DatasetError(f"Could not read {error.filename} ({error.strerror}). {advice}") from None
    return files
