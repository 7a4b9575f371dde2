#!/usr/bin/env bash
# Submits a mixprep job array of TASKS tasks for PIPELINE into OUT, and the finalize
# job after it (afterany: it runs even when a task failed, and then names the missing
# shards). Prints the two job ids and how to rerun a failed task.
#
#   bash scripts/slurm/submit-prep.sh PIPELINE OUT [TASKS] [CPUS_PER_TASK]
#
# TASKS defaults to 4. More tasks than shard files leave some tasks with nothing to
# write (a training epoch of 50,000 samples at shards.samples_per_shard = 5,000 is 10
# files; the test split and the source copy add theirs). MIXPREP=path names the
# mixprep binary (default: mixprep on PATH); sbatch arguments in SBATCH_ARGS (e.g.
# "--partition=cpu --time=02:00:00") are passed to both jobs.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 4 ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
pipeline=$1 out=$2 tasks=${3:-4} cpus=${4:-1}
here=$(cd "$(dirname "$0")" && pwd)
read -r -a extra <<<"${SBATCH_ARGS:-}"
array=$(sbatch --parsable "${extra[@]}" --array=0-$((tasks - 1)) --cpus-per-task="$cpus" \
  --export=ALL,MIXPREP_WORKERS="$tasks" "$here/prep-array.sbatch" "$pipeline" "$out")
array=${array%%;*}
finalize=$(sbatch --parsable "${extra[@]}" --dependency=afterany:"$array" --cpus-per-task="$cpus" \
  "$here/finalize.sbatch" "$out")
finalize=${finalize%%;*}
echo "array job $array ($tasks tasks), finalize job $finalize"
echo "if task K fails: sbatch --array=K --cpus-per-task=$cpus --export=ALL,MIXPREP_WORKERS=$tasks $here/prep-array.sbatch $pipeline $out"
echo "            then: sbatch $here/finalize.sbatch $out"
