#!/usr/bin/env bash
# `make train`: trains the default model and its no-SE twin on Fashion-MNIST (about an hour on
# 2 cores), exports the sample gallery, measures the accuracy with our engine and PyTorch and
# what each SE block matters (scripts/interventions.sh), and writes the model card. Everything it writes under assets/ is committed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/venv.sh

model=assets/models/seresnet10-fmnist
twin=target/resnet10-fmnist
python=.venv/bin/python
$python tools/train_fmnist.py --arch seresnet18 --out "$model"
$python tools/train_fmnist.py --arch resnet18 --out "$twin"
cp "$twin/train_log.json" "$model/train_log_no_se.json"
(cd tools && ../$python export_fmnist.py --samples ../assets/samples)
MODEL="$model" scripts/accuracy.sh
MODEL="$model" LIMIT=100 SHIP=1 scripts/interventions.sh
python3 tools/model_card.py --model "$model" --no-se-log "$model/train_log_no_se.json" \
    --evaluation target/accuracy/ours.json --torch-evaluation target/accuracy/torch.json \
    --importance "$model/importance.json"
echo "wrote $model (see its README.md)"
