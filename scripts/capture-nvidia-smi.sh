#!/usr/bin/env bash
# Records what a host's nvidia-smi prints for every command the sidecar runs (and a few an operator
# compares with), one file per command, so a new driver or GPU can become a test fixture. Read-only:
# nothing here changes a GPU setting. Each file is nvidia-smi's stdout as printed (stderr, when there
# is any, beside it as FILE.stderr); the exit status and the seconds each command took go to
# commands.tsv.
#
#   scripts/capture-nvidia-smi.sh OUTDIR [NVIDIA_SMI]
#
# Then copy what a test should read into tests/fixtures/nvidia-smi/ unchanged and add its row to
# PROVENANCE.md there (machine, driver, date, command).
set -u
export LC_ALL=C # '.' as the decimal point for printf and awk
out=${1:?usage: capture-nvidia-smi.sh OUTDIR [NVIDIA_SMI]}
smi=${2:-${GPUFLEET_NVIDIA_SMI:-nvidia-smi}}
mkdir -p "$out" || exit 1
command -v "$smi" >/dev/null || { echo "capture-nvidia-smi: $smi not found" >&2; exit 1; }

# The sidecar's query mode (QUERY_GPU_FIELDS of sidecar/src/parsers/queryGpuCsv.ts; a test keeps them equal).
query_fields=uuid,utilization.gpu,utilization.memory,utilization.encoder,utilization.decoder,memory.total,memory.used,temperature.gpu,power.draw.instant,power.draw.average,enforced.power.limit,clocks.current.sm,clocks.current.memory
# The fields nvidia_gpu_exporter asks for (the bench's EXPORTER_FIELDS).
exporter_fields=timestamp,driver_version,name,uuid,pci.bus_id,utilization.gpu,utilization.memory,memory.total,memory.used,memory.free,temperature.gpu,power.draw,power.limit,clocks.current.sm,clocks.current.memory,fan.speed,pstate

since() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.3f", t1 - t0 }'; }

printf 'file\texit\tseconds\tcommand\n' >"$out/commands.tsv"
# FILE SECONDS SIGNAL ARGS...: run nvidia-smi ARGS for at most SECONDS, then SIGNAL (and SIGKILL 10 s
# later: a call stuck in the driver must not hang the capture).
record() {
  local file=$1 secs=$2 sig=$3 t0 rc
  shift 3
  t0=$(date +%s.%N)
  timeout -k 10 -s "$sig" "$secs" "$smi" "$@" >"$out/$file" 2>"$out/$file.stderr"
  rc=$?
  [ -s "$out/$file.stderr" ] || rm -f "$out/$file.stderr"
  printf '%s\t%s\t%s\tnvidia-smi %s\n' "$file" "$rc" "$(since "$t0")" "$*" >>"$out/commands.tsv"
}
capture() { local file=$1; shift; record "$file" 60 TERM "$@"; }
# The sidecar's loops print document after document (or row after row) from one long-lived process:
# stopped with SIGINT, as at Ctrl+C, after 2.2 s.
loop() { local file=$1; shift; record "$file" 2.2 INT "$@"; }

capture version.txt --version
capture table.txt
capture L.txt -L
capture q.txt -q
capture q-x.xml -q -x
capture query-gpu.csv "--query-gpu=$exporter_fields" --format=csv
capture query-compute-apps.csv --query-compute-apps=pid,process_name,gpu_uuid,used_memory --format=csv
capture mig-lgip.txt mig -lgip
capture mig-lgi.txt mig -lgi
capture vgpu-q.txt vgpu -q
loop q-x-lms500.stream.txt -q -x -lms 500
loop query-gpu-lms500.csv "--query-gpu=$query_fields" --format=csv,noheader,nounits -lms 500
echo "capture-nvidia-smi: $(($(wc -l <"$out/commands.tsv") - 1)) commands into $out"
