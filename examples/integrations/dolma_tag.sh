#!/usr/bin/env bash
# Tag documents with the `unspin` dolma tagger.
#   pip install dolma   (dolma 1.x needs numpy<2: use its own virtual environment)
#   bash examples/integrations/dolma_tag.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
mkdir -p "$work/documents"
python - "$work/documents/news.json.gz" <<'PY'
import gzip, json, sys
docs = [open(f"examples/{n}_news.txt", encoding="utf-8").read() for n in ("spun", "original")]
with gzip.open(sys.argv[1], "wt", encoding="utf-8") as fh:
    for i, text in enumerate(docs):
        fh.write(json.dumps({"id": str(i), "text": text, "source": "example", "version": "v0"}) + "\n")
PY
dolma tag --documents "$work/documents/*.json.gz" --experiment spin \
    --taggers unspin --tagger_modules unspin.integrations.dolma --processes 1
zcat "$work/attributes/spin/news.json.gz"
