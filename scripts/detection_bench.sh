#!/bin/bash
# The CPU-scale noise-detection benchmark of bench/README.md ("Noise detection", issue 16): one
# noise mask per (noise_mode, eta), natural / 4-fold CV / AT / TRADES runs on it, then detect.
set -e
cd "$(dirname "$0")/.."
export BENIGN_DATA_DIR=${BENIGN_DATA_DIR:-./data} OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
C="+experiment=noise_detection arch=mlp model=mlp_2x1000 data.train_subset=4000 data.test_subset=500 progress=epoch figures=false"
S="eta=0.05,0.15,0.3 data.noise_mode=uniform,pair"
OUT=outputs/detection
python -m benign_lightning $C -m $S method=natural trainer.max_epochs=60 hydra.sweep.dir=$OUT/natural
python -m benign_lightning $C -m $S method=natural ensemble.size=4 data.cv_folds=4 trainer.max_epochs=20 memorization=false small_loss_epoch=null hydra.sweep.dir=$OUT/cv
python -m benign_lightning $C -m $S method=at,trades train_attack.steps=5 trainer.max_epochs=20 hydra.sweep.dir=$OUT/robust
python -m benign_lightning.detect $OUT/natural $OUT/cv $OUT/robust --out bench/detection
