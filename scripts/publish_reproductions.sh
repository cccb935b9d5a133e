#!/bin/bash
# Copy the reports of `python -m benign_lightning.reproduce ... --scale SCALE` (default cpu) from
# reproductions/ to docs/reproduction/ without the run folders (checkpoints stay out of git), and
# write the index docs/reproduction/README.md from their claims.json.
set -e
cd "$(dirname "$0")/.."
scale=${1:-cpu}
for report in reproductions/*/"$scale"/REPORT.md; do
  src=$(dirname "$report")
  figure=$(basename "$(dirname "$src")")
  dst=docs/reproduction/$figure
  rm -rf "$dst" && mkdir -p "$dst"
  cp "$src"/REPORT.md "$src"/report.html "$src"/claims.json "$src"/summary.csv "$dst"/
  cp "$src"/*.png "$dst"/ 2>/dev/null || true
done
python - "$scale" <<'PY'
import json, sys
from pathlib import Path

from benign_lightning.reproduce.registry import ENTRIES

scale = sys.argv[1]
lines = [f"# Reproductions at `{scale}` scale", "",
         f"Written by `python -m benign_lightning.reproduce all --scale {scale}` and "
         f"`scripts/publish_reproductions.sh {scale}`; each folder holds REPORT.md, report.html, "
         "claims.json and summary.csv.", "",
         "| figure | paper | claim | verdict | ours |", "|---|---|---|---|---|"]
for entry in ENTRIES:
    path = Path("docs/reproduction") / entry.name / "claims.json"
    if not path.exists():
        lines.append(f"| {entry.name} | {entry.section} | | not reproduced at this scale | |")
        continue
    for claim in json.loads(path.read_text())["claims"]:
        ours = claim["ours"].replace("|", "\\|")
        lines.append(f"| [{entry.name}]({entry.name}/REPORT.md) | {entry.section} | {claim['id']} | "
                     f"{claim['verdict']} | {ours} |")
Path("docs/reproduction/README.md").write_text("\n".join(lines) + "\n")
PY
echo "copied: $(ls -d docs/reproduction/*/ | wc -l) figures; index docs/reproduction/README.md"
