#!/usr/bin/env bash
# S2S-M, the demo and the library's tests on one NVIDIA GPU, in a fixed time.
#
# Usage: bench/gpu.sh OUT_DIR [SECONDS [PHASES]]
#
# Needs python3 with Keras 3, JAX (CUDA) and PyTorch (CUDA), and for the
# demo sentencepiece, sacrebleu, matplotlib and PyYAML; the tests and the
# bucketing benchmark read ../shared's fixtures and corpus from
# $SEQ2SEQ_SHARED. In order, each phase given what is left of SECONDS
# (default 540); PHASES (default "float16 bench bf16 bucketing tests")
# names the phases to run:
#   float16: where a mixed_float16 decoder's training goes NaN on JAX's
#      GPU (bench/float16_probe.py; it trains on CPUs);
#   bench: S2S-M in float32 on the GPU: JAX, PyTorch and the reference
#      (bench/s2s_m.py --device cuda), alone on the GPU;
#   bf16: S2S-M in mixed bfloat16, JAX and the reference;
#   demo: `make demo`'s script on JAX (examples/demo.sh: train, translate,
#      evaluate, plot), as a user with a GPU runs it, alone on the GPU;
#   bucketing: the tool's training on Tatoeba lengths on JAX, with and
#      without length bucketing (bench/tool_bucketing.py);
#   tests: at once, the PyTorch library tests (tests/lib) and the JAX
#      parity tests in float32 matrix products.
# Logs and JSON go to OUT_DIR; the last lines printed are the tables.
set -u
out=${1:?usage: bench/gpu.sh OUT_DIR [SECONDS]}
end=$(($(date +%s) + ${2:-540}))
phases=" ${3:-float16 bench bf16 bucketing tests} "
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2

left() { # seconds left before the end, less a reserve, at most $1
    local n=$((end - $(date +%s) - ${2:-15}))
    ((n > $1)) && n=$1
    ((n < 1)) && n=1
    echo $n
}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm \
    --format=csv | tee "$out/gpu.txt"
python3 -c 'import keras, jax, torch; print("keras", keras.__version__,
    "jax", jax.__version__, jax.devices(), "torch", torch.__version__,
    torch.cuda.get_device_name())' 2>&1 | tail -1 | tee -a "$out/gpu.txt"

[[ $phases == *" float16 "* ]] && { KERAS_BACKEND=jax timeout "$(left 120 400)" \
    python3 bench/float16_probe.py >"$out/float16_probe.txt" 2>&1
echo "[float16_probe] exit $?" >>"$out/float16_probe.txt"; }

[[ $phases == *" bench "* ]] && { timeout "$(left 200 300)" python3 bench/s2s_m.py --device cuda \
    --backends jax,torch,reference --json "$out/s2s_m_gpu.json" \
    >"$out/s2s_m_gpu.txt" 2>"$out/s2s_m_gpu.err"
echo "[s2s_m_gpu] exit $?" >>"$out/s2s_m_gpu.txt"; }

[[ $phases == *" bf16 "* ]] && { timeout "$(left 150 250)" python3 bench/s2s_m.py --device cuda \
    --dtype-policy mixed_bfloat16 --backends jax,reference \
    --json "$out/s2s_m_gpu_bf16.json" >"$out/s2s_m_gpu_bf16.txt" 2>"$out/s2s_m_gpu_bf16.err"
echo "[s2s_m_gpu_bf16] exit $?" >>"$out/s2s_m_gpu_bf16.txt"; }

[[ $phases == *" demo "* ]] && {
start=$(date +%s)
PY=python3 KERAS_BACKEND=jax timeout "$(left 240 100)" bash examples/demo.sh \
    >"$out/demo_jax.txt" 2>&1
echo "[demo_jax] exit $? after $(($(date +%s) - start)) s" >>"$out/demo_jax.txt"
cp demo-out/test.json "$out/demo_jax_test.json" 2>/dev/null
cp runs/dates/metrics.csv "$out/demo_jax_metrics.csv" 2>/dev/null; }

[[ $phases == *" bucketing "* ]] && { KERAS_BACKEND=jax timeout "$(left 150 150)" \
    python3 bench/tool_bucketing.py --json "$out/tool_bucketing_gpu_jax.json" \
    >"$out/tool_bucketing_gpu_jax.txt" 2>&1
echo "[tool_bucketing_gpu_jax] exit $?" >>"$out/tool_bucketing_gpu_jax.txt"; }

# The tests share the GPU: JAX must not take 75 % of its memory up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
parity="tests/lib/test_tfa_attention.py tests/lib/test_tfa_attention_wrapper.py
    tests/lib/test_beam_search_parity.py tests/lib/test_decoder.py
    tests/lib/test_losses.py tests/lib/test_tfa_basic_decoder.py
    tests/lib/test_tfa_beam_search_decoder.py"
pytest_on() { # log name, backend, workers, matmul precision or "", paths
    local name=$1 backend=$2 workers=$3 precision=$4
    shift 4
    env KERAS_BACKEND="$backend" \
        ${precision:+JAX_DEFAULT_MATMUL_PRECISION=$precision} \
        timeout "$(left 400 10)" python3 -m pytest -v -p no:cacheprovider \
        -n "$workers" -p no:benchmark -W ignore::DeprecationWarning -W ignore::FutureWarning \
        "$@" >"$out/$name.log" 2>&1
    printf '\n[%s] exit %s\n' "$name" $? >>"$out/$name.log"
}
[[ $phases == *" tests "* ]] && {
# shellcheck disable=SC2086
pytest_on tests_torch torch 10 "" tests/lib &
# shellcheck disable=SC2086
pytest_on parity_jax_float32 jax 5 float32 $parity &
wait; }

[[ -f $out/float16_probe.txt ]] && grep -E "^(jax|mixed|  )|exit" "$out/float16_probe.txt"
for f in s2s_m_gpu s2s_m_gpu_bf16; do
    [[ -f $out/$f.txt ]] && { cat "$out/$f.txt"; tail -3 "$out/$f.err"; }
done
[[ -f $out/demo_jax.txt ]] &&
    grep -E "^==|exact match|took|[0-9]+\.[0-9] s|exit" "$out/demo_jax.txt" | tail -25
[[ -f $out/tool_bucketing_gpu_jax.txt ]] && tail -6 "$out/tool_bucketing_gpu_jax.txt"
for name in tests_torch parity_jax_float32; do
    [[ -f $out/$name.log ]] || continue
    echo "== $name: $(grep -c ' PASSED' "$out/$name.log") passed," \
        "$(grep -c ' FAILED' "$out/$name.log") failed; $(tail -1 "$out/$name.log")"
    grep -m 12 ' FAILED' "$out/$name.log"
done
