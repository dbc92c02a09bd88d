#!/usr/bin/env bash
# Records what a host's nvidia-smi prints for every command the sidecar runs (and a few an operator
# compares with), one file per command, so a new driver or GPU can become a test fixture. Read-only:
# nothing here changes a GPU setting. Each file starts with nothing added; the exit status and the
# seconds each command took go to commands.tsv beside them.
#
#   scripts/capture-nvidia-smi.sh OUTDIR [NVIDIA_SMI]
#
# Then copy what a test should read into tests/fixtures/nvidia-smi/ unchanged and add its row to
# PROVENANCE.md there (machine, driver, date, command).
set -u
out=${1:?usage: capture-nvidia-smi.sh OUTDIR [NVIDIA_SMI]}
smi=${2:-${GPUFLEET_NVIDIA_SMI:-nvidia-smi}}
mkdir -p "$out" || exit 1
command -v "$smi" >/dev/null || { echo "capture-nvidia-smi: $smi not found" >&2; exit 1; }

# The fields nvidia_gpu_exporter asks for (the bench's EXPORTER_FIELDS).
fields=timestamp,driver_version,name,uuid,pci.bus_id,utilization.gpu,utilization.memory,memory.total,memory.used,memory.free,temperature.gpu,power.draw,power.limit,clocks.current.sm,clocks.current.memory,fan.speed,pstate

printf 'file\texit\tseconds\tcommand\n' >"$out/commands.tsv"
capture() { # FILE ARGS...
  local file=$1
  shift
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout 60 "$smi" "$@" >"$out/$file" 2>"$out/$file.stderr"
  rc=$?
  t1=$(date +%s.%N)
  [ -s "$out/$file.stderr" ] || rm -f "$out/$file.stderr"
  printf '%s\t%s\t%.3f\tnvidia-smi %s\n' "$file" "$rc" "$(awk "BEGIN{print $t1 - $t0}")" "$*" >>"$out/commands.tsv"
}

capture version.txt --version
capture table.txt
capture L.txt -L
capture q.txt -q
capture q-x.xml -q -x
capture query-gpu.csv "--query-gpu=$fields" --format=csv
capture query-compute-apps.csv --query-compute-apps=pid,process_name,gpu_uuid,used_memory --format=csv
capture mig-lgip.txt mig -lgip
capture mig-lgi.txt mig -lgi
capture vgpu-q.txt vgpu -q
# The sidecar's loop: several documents back to back, as it reads them from one long-lived process.
t0=$(date +%s.%N)
timeout -s INT 2.2 "$smi" -q -x -lms 500 >"$out/q-x-lms500.xml" 2>"$out/q-x-lms500.xml.stderr"
rc=$?
[ -s "$out/q-x-lms500.xml.stderr" ] || rm -f "$out/q-x-lms500.xml.stderr"
printf 'q-x-lms500.xml\t%s\t%.3f\tnvidia-smi -q -x -lms 500 (stopped by SIGINT after 2.2 s)\n' "$rc" "$(awk "BEGIN{print $(date +%s.%N) - $t0}")" >>"$out/commands.tsv"
echo "capture-nvidia-smi: $(($(wc -l <"$out/commands.tsv") - 1)) commands into $out"
