#!/usr/bin/env bash
# Train the two bundled models (nature: clusters k=7, nature-edges: edges) on data/beautiful,
# side by side, one thread each: nature with per-pixel noise and no L1 term (its v3 recipe),
# nature-edges with TrainConfig's default recipe (its v2); see engine/bundled/models/MODEL_CARD.md.
# Usage: scripts/train_bundled.sh WORK_DIR TIME_BUDGET [fine-tune]
#   e.g. scripts/train_bundled.sh /tmp/v3 85m
# With `fine-tune`, each model starts from the generator of its bundled version (a longer run
# in several sessions) instead of random weights.
# Resumable: run it again with the same WORK_DIR to continue from the last checkpoints.
# The registered files end up in WORK_DIR/data/models/; copy them to engine/bundled/models/.
set -euo pipefail
work="${1:?work dir}"
budget="${2:?time budget, e.g. 65m}"
mode="${3:-}"
cd "$(dirname "$0")/.."
export BEAUTYNET_DATA_DIR="$work/data"
bin=.venv/bin
if [ ! -d "$BEAUTYNET_DATA_DIR/datasets/beautiful" ]; then
    "$bin/beautynet" dataset add beautiful data/beautiful
fi
licence="GPL-3.0-or-later (photos: GPL-2+, CC-BY-SA-4.0/3.0, CC-BY, CC0, public domain, BSD-3; see engine/bundled/models/training-data/)"
resume=()
init=()
train() {  # name segmenter [recipe options...]
    local name="$1" segmenter="$2"
    shift 2
    [ -f "$work/runs/$name/checkpoint.pt" ] && resume=(--resume) || resume=()
    [ "$mode" = fine-tune ] && init=(--init-from "$name") || init=()
    OMP_NUM_THREADS=1 "$bin/beautynet" train --dataset beautiful --name "$name" \
        --segmenter "$segmenter" --k 7 --size 128 --serve-size 256 --ngf 24 --ndf 24 \
        --batch-size 4 --time-budget "$budget" --epoch-samples 1024 --checkpoint-every 5m \
        --run-dir "$work/runs/$name" --licence "$licence" \
        --description "trained only on 74 photographs of beautiful things ($segmenter)" \
        "${resume[@]}" "${init[@]}" "$@" > "$work/$name.log" 2>&1
}
mkdir -p "$work"
train nature clusters --noise --l1-weight 0 &
train nature-edges edges &
wait
tail -n 3 "$work/nature.log" "$work/nature-edges.log"
