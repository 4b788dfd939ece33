#!/usr/bin/env bash
# camjax on one accelerator, against PyTorch on the same chip, in at most 9 minutes:
#
#   bash bench/accelerator.sh [PYTHON]        # from the repository root, on a GPU machine
#
# 1. ResNet-50-GAP train step, bfloat16, 224 px, at the largest power-of-two batch that
#    fits (bench/train_step.py --batch-per-device max), PyTorch bf16 autocast and
#    channels-last on the same batch;
# 2. evaluation maps/s: VGG16-GAP forward + top-5 CAMs at 224, batch 64 (bench/forward_cam.py);
# 3. Score-CAM and deletion/insertion images/s at 224 (bench/methods.py, bf16);
# 4. the input pipeline on this host's cores, and how many of them feed the chip at the
#    ResNet-50 rate measured in 1 (bench/input_pipeline.py).
#
# Every part has a time limit (together 500 s, with start-up under 9 minutes) and writes its own BENCHMARKS.md
# section whose name carries the device (accelerator_*), so the CPU sections stay; the
# train step adds its device's block to the train_step section. A part that fails or runs
# out of time is named in the summary section and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${1:-${PYTHON:-.venv/bin/python}}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL=3
# JAX and PyTorch share the chip in one process: JAX allocates as it goes (not 75% up front)
export XLA_PYTHON_CLIENT_PREALLOCATE=false XLA_PYTHON_CLIENT_MEM_FRACTION=0.9
OUT=$(mktemp -d)
START=$(date +%s)

DEVICE=$("$PY" -c "import jax; d = jax.devices()[0]; print(f'{jax.device_count()} x {d.device_kind}')")
PLATFORM=$("$PY" -c "import jax; print(jax.devices()[0].platform)")
if [ "$PLATFORM" = "cpu" ]; then
    echo "no accelerator: JAX sees only the CPU ($DEVICE); the CPU benches are 'make bench'" >&2
    exit 2
fi
echo "== camjax accelerator bench on $DEVICE"
TAG=$(echo "$DEVICE" | tr -c 'A-Za-z0-9\n' '_')
declare -a STATUS

part() {   # part NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s)"
    local t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    STATUS+=("| $name | $([ "$rc" = 0 ] && echo ok || echo "failed (exit $rc)") | $(( $(date +%s) - t0 )) s |")
}

part train 240 "$PY" bench/train_step.py --models resnet50_gap --image-size 224 \
    --dtype bfloat16 --batch-per-device max --channels-last --steps 10 --repeats 3 \
    --device-note "$DEVICE" --json "$OUT/train.json"
part forward_cam 75 "$PY" bench/forward_cam.py --images 64 --bf16 --channels-last \
    --repeats 5 --section "accelerator_forward_cam_$TAG"
part methods 110 "$PY" bench/methods.py --images 32 --image-size 224 --chunk 32 \
    --steps 112 --bf16 --channels-last --repeats 3 --section "accelerator_methods_$TAG"

RATE=$("$PY" -c "import json, sys; r = json.load(open('$OUT/train.json'))['rows'][0]; print(f\"{r['camjax_ips']:.0f}\")" 2>/dev/null || echo "")
if [ -n "$RATE" ]; then
    part input_pipeline 75 "$PY" bench/input_pipeline.py --images 192 --image-sizes 224 \
        --threads 1 4 --workers 4 --repeats 2 --resnet50-rate "$RATE" \
        --resnet50-source "measured above on $DEVICE: camjax's ResNet-50-GAP bf16 train step" \
        --section "accelerator_input_pipeline_$TAG"
else
    part input_pipeline 75 "$PY" bench/input_pipeline.py --images 192 --image-sizes 224 \
        --threads 1 4 --workers 4 --repeats 2 --section "accelerator_input_pipeline_$TAG"
fi

TOTAL=$(( $(date +%s) - START ))
"$PY" - "$DEVICE" "$TAG" "$TOTAL" "${STATUS[@]}" <<'EOF'
import sys
sys.path.insert(0, "bench")
from sections import write_section
device, tag, total, *rows = sys.argv[1:]
write_section(f"accelerator_{tag}", "\n".join([
    f"## On an accelerator: {device} (bench/accelerator.sh)", "",
    f"bench/accelerator.sh ran in {int(total) // 60} min {int(total) % 60} s. The train step "
    f"is the `{device}` block of the train_step section; the other parts are the "
    f"accelerator_*_{tag} sections below.", "",
    "| part | result | seconds |", "|---|---|---:|", *rows]))
print(f"wrote the accelerator_{tag} section of BENCHMARKS.md")
EOF
rm -rf "$OUT"
