#!/usr/bin/env bash
# S2S-M and the library's tests on one NVIDIA GPU, in a fixed time.
#
# Usage: bench/gpu.sh OUT_DIR [SECONDS]
#
# Needs python3 with Keras 3, JAX (CUDA) and PyTorch (CUDA); the tests read
# the TFA fixtures from $SEQ2SEQ_SHARED. In order, each phase given what is
# left of SECONDS (default 540):
#   1. S2S-M in float32 on the GPU: JAX, PyTorch and the reference
#      (bench/s2s_m.py --device cuda), quietly, alone on the GPU;
#   2. the same with TensorFloat-32 matrix products on every side (--tf32);
#   3. at once: the PyTorch library tests (tests/lib), and the JAX parity
#      tests twice, in JAX's default GPU precision (TF32) and in float32.
# Logs and JSON go to OUT_DIR; the last lines printed are the tables.
set -u
out=${1:?usage: bench/gpu.sh OUT_DIR [SECONDS]}
end=$(($(date +%s) + ${2:-540}))
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

bench() { # name, extra arguments
    local name=$1
    shift
    timeout "$(left 240 120)" python3 bench/s2s_m.py --device cuda \
        --backends jax,torch,reference --json "$out/$name.json" "$@" \
        >"$out/$name.txt" 2>"$out/$name.err"
    echo "[$name] exit $?" >>"$out/$name.txt"
}
bench s2s_m_gpu
bench s2s_m_gpu_tf32 --tf32

# The tests share the GPU: JAX must not take 75 % of its memory up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
parity="tests/lib/test_tfa_attention.py tests/lib/test_tfa_attention_wrapper.py
    tests/lib/test_beam_search_parity.py tests/lib/test_decoder.py
    tests/lib/test_losses.py tests/lib/test_tfa_basic_decoder.py
    tests/lib/test_tfa_beam_search_decoder.py"
pytest_on() { # log name, backend, matmul precision or "", test paths
    local name=$1 backend=$2 precision=$3
    shift 3
    env KERAS_BACKEND="$backend" \
        ${precision:+JAX_DEFAULT_MATMUL_PRECISION=$precision} timeout "$(left 400 10)" python3 -m pytest -v -p no:cacheprovider \
        -W ignore::DeprecationWarning -W ignore::FutureWarning "$@" \
        >"$out/$name.log" 2>&1
    printf '\n[%s] exit %s\n' "$name" $? >>"$out/$name.log"
}
# shellcheck disable=SC2086
pytest_on tests_torch torch "" tests/lib &
# shellcheck disable=SC2086
pytest_on parity_jax_default jax "" $parity &
# shellcheck disable=SC2086
pytest_on parity_jax_float32 jax float32 $parity &
wait

for name in s2s_m_gpu s2s_m_gpu_tf32; do
    cat "$out/$name.txt"
    tail -3 "$out/$name.err"
done
for name in tests_torch parity_jax_default parity_jax_float32; do
    echo "== $name: $(grep -c ' PASSED' "$out/$name.log") passed," \
        "$(grep -c ' FAILED' "$out/$name.log") failed; $(tail -1 "$out/$name.log")"
    grep -m 12 ' FAILED' "$out/$name.log"
done
