"""``python -m train_app.api_corpus``: build the API corpus into the cache (once) and print its
counts: providers and operations per source after dedupe and caps, and the held-out split.

    python -m train_app.api_corpus
    python -m train_app.api_corpus --cache-dir /tmp/corpus
"""

from __future__ import annotations

import argparse
import logging

from configs.store import DEFAULT_CONFIG_FILE, load_config
from train_app.api_corpus.build import ENTRIES_FILE, ensure_corpus, load_corpus, read_manifest
from train_app.api_corpus.npm_fetch import CorpusFetchError
from train_app.api_corpus.split import split_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train_app.api_corpus", description=__doc__)
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="the YAML config file")
    parser.add_argument("--cache-dir", help="overrides data.corpus.cache_dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_config(args.config).data.corpus
    if args.cache_dir:
        config = config.model_copy(update={"cache_dir": args.cache_dir})
    try:
        folder = ensure_corpus(config)
    except CorpusFetchError as error:
        raise SystemExit(f"error: {error}") from None
    manifest = read_manifest(folder)
    counts = manifest["counts"]
    split = split_corpus(load_corpus(config), config)
    print(f"corpus: {folder / ENTRIES_FILE} (built in {manifest['build_seconds']} s)")
    print(
        f"  {counts['operations']} operations of {counts['providers']} providers "
        f"({counts['apis']} APIs); {counts['converted']} converted, "
        f"{counts['after_dedupe']} after dedupe"
    )
    for source, numbers in counts["per_source"].items():
        print(
            f"  {source}: {numbers['operations']} operations, {numbers['providers']} providers, "
            f"{numbers['apis']} APIs ({numbers['converted']} converted, "
            f"{numbers['after_dedupe']} after dedupe, {numbers['with_examples']} with examples)"
        )
    for name, groups in (("train", split.train), ("eval", split.eval)):
        providers = {group.provider for group in groups}
        operations = sum(len(group.entries) for group in groups)
        print(f"  {name}: {len(providers)} providers, {len(groups)} APIs, {operations} operations")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
