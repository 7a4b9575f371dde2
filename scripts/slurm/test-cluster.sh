#!/usr/bin/env bash
# The job-array workflow on a real single-node Slurm cluster, as users run it: starts
# munged, slurmctld and slurmd on this machine (config and state in a temporary folder,
# no systemd; root needed), then
#   1. submits the quickstart pipeline as a 4-task array plus the finalize job
#      (scripts/slurm/submit-prep.sh), waits, and checks that the directory verifies
#      and is byte-identical to a single-process run — REPEAT times (default 1);
#   2. submits it again with task 1 killed (SIGKILL) mid-run, once it holds its worker lock:
#      Slurm marks the task FAILED, the finalize job runs (afterany), names the missing
#      shards and fails; task 1 is resubmitted alone (--array=1), finalize passes, and
#      the bytes are again those of the single run;
# and stops the daemons it started. CI runs it from scripts/test.sh when Slurm is installed.
#
#   bash scripts/slurm/test-cluster.sh [--repeat N]        MIXPREP=path (default: the debug build)
#
# Exit status 0 when every check passed. Slurm accounting is not set up (no slurmdbd), so
# task states and exit codes are read with `scontrol show job` rather than `sacct`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
repeat=1
if [ "${1:-}" = "--repeat" ]; then repeat=$2; fi
mixprep=${MIXPREP:-$(cd "$repo" && swift build --show-bin-path)/mixprep}
for tool in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install slurm-wlm munge)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "error: starting slurmd needs root" >&2; exit 1; }
[ -x "$mixprep" ] || { echo "error: no mixprep at $mixprep (swift build first)" >&2; exit 1; }

work=$(mktemp -d /tmp/mixshards-slurm-XXXXXX)
export SLURM_CONF=$work/slurm.conf
host=$(hostname -s)
cleanup() {
  for daemon in slurmd slurmctld munged; do
    [ -f "$work/$daemon.pid" ] && kill "$(cat "$work/$daemon.pid")" 2>/dev/null || true
  done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/state" "$work/spool" "$work/jobs"
cat >"$SLURM_CONF" <<CONF
ClusterName=mixshards-test
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge.socket
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
munged --key-file=/etc/munge/munge.key --socket="$work/munge.socket" --pid-file="$work/munged.pid" \
  --log-file="$work/munged.log" --seed-file="$work/munged.seed" --force
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = "idle" ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %t)" = "idle" ] || { echo "error: the Slurm node did not come up" >&2; tail -5 "$work"/*.log >&2; exit 1; }
echo "slurm: $(slurmctld -V) on $host, $(nproc) CPUs, up"

# Waits until the jobs given leave the queue (at most 5 minutes).
wait_jobs() {
  for _ in $(seq 1 600); do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  echo "error: jobs $1 still queued after 5 minutes" >&2
  squeue >&2
  return 1
}
# JobState and ExitCode of a job (or array task JOB_K).
job_state() { scontrol show job "$1" | tr ' ' '\n' | grep -E '^(JobState|ExitCode)=' | tr '\n' ' '; }
# The files of a shard directory but lock files, for comparing bytes.
same_bytes() { diff -r -q -x '*.lock' "$1" "$2" >/dev/null; }

pipeline=$repo/pipelines/quickstart.toml
"$mixprep" run "$pipeline" --out "$work/single" --quiet
failures=0
check() { if eval "$2"; then echo "  ok: $1"; else echo "  FAILED: $1"; failures=$((failures + 1)); fi; }

for round in $(seq 1 "$repeat"); do
  echo "round $round: 4-task array + finalize"
  out=$work/array-$round
  ids=$(cd "$work/jobs" && MIXPREP=$mixprep bash "$repo/scripts/slurm/submit-prep.sh" "$pipeline" "$out" 4 | sed -n 1p)
  array=$(echo "$ids" | awk '{print $3}') finalize=$(echo "$ids" | awk '{print $8}')
  wait_jobs "$array,$finalize"
  for k in 0 1 2 3; do check "task $k: $(job_state "${array}_$k")" '[[ "$(job_state "${array}_$k")" == *"JobState=COMPLETED ExitCode=0:0"* ]]'; done
  check "finalize: $(job_state "$finalize")" '[[ "$(job_state "$finalize")" == *"JobState=COMPLETED ExitCode=0:0"* ]]'
  check "the directory verifies" '"$mixprep" verify "$out" >/dev/null 2>&1'
  check "byte-identical to a single-process run" 'same_bytes "$work/single" "$out"'
done

echo "a task killed mid-run, then resubmitted alone"
out=$work/killed
cat >"$work/kill-task-1.sh" <<WRAP
#!/usr/bin/env bash
# mixprep, but task 1's first attempt is killed (SIGKILL) as soon as it holds its worker lock:
# started, reading its input, none of its shards written (killing it after its first shard
# raced with its second on a fast machine).
if [ "\$SLURM_ARRAY_TASK_ID" = 1 ] && [ ! -e "$work/killed-once" ]; then
  touch "$work/killed-once"
  "$mixprep" "\$@" & pid=\$!
  for _ in \$(seq 1 6000); do [ -e "$out/.mixprep-worker-1-of-4.lock" ] && break; sleep 0.01; done
  kill -KILL \$pid
  wait \$pid
  exit 137
fi
exec "$mixprep" "\$@"
WRAP
chmod +x "$work/kill-task-1.sh"
ids=$(cd "$work/jobs" && MIXPREP=$work/kill-task-1.sh bash "$repo/scripts/slurm/submit-prep.sh" "$pipeline" "$out" 4 | sed -n 1p)
array=$(echo "$ids" | awk '{print $3}') finalize=$(echo "$ids" | awk '{print $8}')
wait_jobs "$array,$finalize"
check "task 1 failed: $(job_state "${array}_1")" '[[ "$(job_state "${array}_1")" == *"JobState=FAILED"* ]] && [[ "$(job_state "${array}_1")" != *"ExitCode=0:0"* ]]'
check "finalize failed: $(job_state "$finalize")" '[[ "$(job_state "$finalize")" == *"JobState=FAILED ExitCode=1:0"* ]]'
named=$(cat "$work/jobs/slurm-mixprep-finalize-$finalize.out")
check "finalize named the missing shards: $named" '[[ "$named" == *"2 of 8 shards missing: train/epoch-000/shard-00000.mxs, train/epoch-002/shard-00000.mxs;"* ]]'
again=$(cd "$work/jobs" && sbatch --parsable --array=1 --export=ALL,MIXPREP_WORKERS=4,MIXPREP="$mixprep" \
  "$repo/scripts/slurm/prep-array.sbatch" "$pipeline" "$out")
final=$(cd "$work/jobs" && sbatch --parsable --dependency=afterok:"$again" --export=ALL,MIXPREP="$mixprep" \
  "$repo/scripts/slurm/finalize.sbatch" "$out")
wait_jobs "$again,$final"
check "task 1 resubmitted: $(job_state "${again}_1")" '[[ "$(job_state "${again}_1")" == *"JobState=COMPLETED ExitCode=0:0"* ]]'
check "finalize after it: $(job_state "$final")" '[[ "$(job_state "$final")" == *"JobState=COMPLETED ExitCode=0:0"* ]]'
check "byte-identical to a single-process run" 'same_bytes "$work/single" "$out"'

if [ "$failures" -ne 0 ]; then
  echo "slurm: $failures check(s) failed"
  exit 1
fi
echo "slurm: every check passed ($repeat round(s) + the killed task)"
