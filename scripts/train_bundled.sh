#!/usr/bin/env bash
# Train the two bundled models on data/beautiful, side by side, one thread each, with the
# recipes of engine/bundled/models/MODEL_CARD.md:
#   nature v6 (clusters k=7): per-pixel noise, no L1 term, the colour-distribution loss (10)
#     with chroma weight 3, bilinear upsampling and the input skip, 10 epochs of 256 steps
#     from scratch, seed 1; then fine-tuned from that for 40 minutes with a fresh
#     discriminator, the colour loss at 100 and half the learning rates;
#   nature-edges v6 (edges): TrainConfig's defaults plus per-pixel noise, the
#     colour-distribution loss with chroma weight 3, bilinear upsampling and the input skip,
#     7 epochs of 256 steps from scratch, seed 1 (longer edges runs drifted into smears);
#   v7 of both: v6 fine-tuned for 20 minutes with a fresh discriminator and the chroma-grain
#     and lightness-grain losses at 100 (no colour speckle beyond the photo's, no less texture
#     in the light and dark); nature at the default learning rates, nature-edges at half;
#   v8 of both: v7's generator with a detail network (answers up to 1024 px, issue 36),
#     `beautynet train-detail`, 100 minutes (nature, with its defaults) and 3200 steps, about
#     15 minutes (nature-edges: longer runs drew a pixel grid), from the softened photo and
#     judged on the detail alone;
#   nature-edges v9: v7's generator with a new detail network, `beautynet train-detail` with
#     its defaults for edges (the photo point-sampled, softened and lined as the generator
#     draws, the whole result judged, texture priced), 3200 steps: no echoes beside edges.
# Budgets are minutes of training on this project's 2-core CPU, epochs ("7epochs") or steps
# ("3200steps").
# Usage: scripts/train_bundled.sh WORK_DIR    e.g. scripts/train_bundled.sh /tmp/v7
# Resumable: run it again with the same WORK_DIR to continue from the last checkpoints. Each
# stage registers a version; the last one of each name lands in WORK_DIR/data/models/, to be
# copied to engine/bundled/models/.
set -euo pipefail
work="${1:?work dir}"
cd "$(dirname "$0")/.."
export BEAUTYNET_DATA_DIR="$work/data"
bin=.venv/bin
if [ ! -d "$BEAUTYNET_DATA_DIR/datasets/beautiful" ]; then
    "$bin/beautynet" dataset add beautiful data/beautiful
fi
licence="GPL-3.0-or-later (photos: GPL-2+, CC-BY-SA-4.0/3.0, CC-BY, CC0, public domain, BSD-3; see engine/bundled/models/training-data/)"
detail() {  # run name budget [options...]: v(newest) with a detail network, resumable
    local run="$work/runs/$1" name="$2" budget="$3"
    shift 3
    [ -f "$run/done-$budget" ] && return
    local length=(--time-budget "$budget")
    [[ "$budget" == *steps ]] && length=(--steps "${budget%steps}")
    local resume=()
    [ -f "$run/detail-checkpoint.pt" ] && resume=(--resume)
    OMP_NUM_THREADS=1 "$bin/beautynet" -v train-detail --model "$name@$(newest "$name")" \
        --dataset beautiful "${length[@]}" --run-dir "$run" "${resume[@]}" "$@" \
        >> "$work/$name.log" 2>&1
    touch "$run/done-$budget"
}
stage() {  # run name segmenter total-budget [recipe options...]: continues run's last stage
    local run="$work/runs/$1" name="$2" segmenter="$3" budget="$4"
    shift 4
    [ -f "$run/done-$budget" ] && return
    local length=(--time-budget "$budget")
    [[ "$budget" == *epochs ]] && length=(--epochs "${budget%epochs}")
    local resume=()
    [ -f "$run/checkpoint.pt" ] && resume=(--resume)
    OMP_NUM_THREADS=1 "$bin/beautynet" train --dataset beautiful --name "$name" \
        --segmenter "$segmenter" --k 7 --size 128 --serve-size 256 --ngf 24 --ndf 24 \
        --batch-size 4 "${length[@]}" --epoch-samples 1024 --checkpoint-every 5m \
        --run-dir "$run" --licence "$licence" \
        --description "trained only on 74 photographs of beautiful things ($segmenter)" \
        "${resume[@]}" "$@" >> "$work/$name.log" 2>&1
    touch "$run/done-$budget"
}
newest() {  # name: the newest version of name registered in this work dir
    find "$BEAUTYNET_DATA_DIR/models" -name "$1-v*.pt" | sed 's/.*-v\([0-9]*\)\.pt$/\1/' |
        sort -n | tail -n 1
}
generator=(--noise --chroma-weight 3 --upsample bilinear --input-skip)
grain=(--chroma-grain 100 --light-grain 100)
nature() {
    local recipe=("${generator[@]}" --l1-weight 0)
    stage nature nature clusters 10epochs "${recipe[@]}" --colour-distribution 10 --seed 1
    # a new run from the 10-epoch version (registered only when a run ends): v6
    stage nature-colour nature clusters 40m --init-from "nature@$(newest nature)" \
        "${recipe[@]}" --colour-distribution 100 --lr-g 5e-5 --lr-d 2e-4
    # v7
    stage nature-grain nature clusters 20m --init-from "nature@$(newest nature)" \
        "${recipe[@]}" --colour-distribution 100 "${grain[@]}"
    detail nature-detail nature 100m  # v8
}
edges() {
    local recipe=("${generator[@]}" --colour-distribution 10)
    stage nature-edges nature-edges edges 7epochs "${recipe[@]}" --seed 1  # v6
    stage edges-grain nature-edges edges 20m --init-from "nature-edges@$(newest nature-edges)" \
        "${recipe[@]}" --lr-g 5e-5 --lr-d 2e-4 "${grain[@]}"  # v7
    detail edges-detail nature-edges 3200steps --picture softened --judged detail \
        --light-grain 0  # v8
    detail edges-lined nature-edges 3200steps  # v9: a new detail network for v8's generator
}
mkdir -p "$work"
nature &
edges &
wait
tail -n 3 "$work/nature.log" "$work/nature-edges.log"
