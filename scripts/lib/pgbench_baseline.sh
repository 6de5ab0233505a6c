#!/usr/bin/env bash
# PostgreSQL's own limit for one finalisation's rows (issue 10): loads bench/baseline/schema.sql into the
# given database (dropping and recreating the schema `baseline`), then runs bench/baseline/finalisation.sql
# under pgbench at each concurrency level and prints one JSON line per level on stdout:
#   {"clients":N,"tps":…,"latency_ms":{"p50":…,"p95":…,"p99":…,"max":…},"transactions":…,"failed":…}
# Latency percentiles come from pgbench's per-transaction log; everything else pgbench says goes to stderr.
#
# usage: pgbench_baseline.sh --host H --port P --user U --dbname D --levels 1,8,32 --duration 15 [--pgbench PATH]
# The password comes the usual libpq way (PGPASSWORD or ~/.pgpass). The user needs CREATE on the database;
# CHECKPOINT before each level is skipped, with a note, when the user may not run it.
set -euo pipefail

usage() {
    echo "usage: $0 --host H --port P --user U --dbname D --levels 1,8,32 --duration 15 [--pgbench PATH]" >&2
    exit 2
}

host="" port="" user="" dbname="" levels="" duration="" pgbench=""
while [ $# -gt 0 ]; do
    case "$1" in
        --host) host="${2:-}"; shift 2 ;;
        --port) port="${2:-}"; shift 2 ;;
        --user) user="${2:-}"; shift 2 ;;
        --dbname) dbname="${2:-}"; shift 2 ;;
        --levels) levels="${2:-}"; shift 2 ;;
        --duration) duration="${2:-}"; shift 2 ;;
        --pgbench) pgbench="${2:-}"; shift 2 ;;
        -h|--help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
done
[ -n "$host" ] && [ -n "$port" ] && [ -n "$user" ] && [ -n "$dbname" ] && [ -n "$levels" ] && [ -n "$duration" ] || usage
[[ "$levels" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "--levels takes client counts separated by commas, such as 1,8,32" >&2; exit 2; }
[[ "$duration" =~ ^[1-9][0-9]*$ ]] || { echo "--duration takes whole seconds" >&2; exit 2; }

# pgbench as given, else the one of the PostgreSQL pg_config names, else the newest Debian keeps off PATH.
locate_pgbench() {
    if [ -n "$pgbench" ]; then
        echo "$pgbench"
    elif command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/pgbench" ]; then
        echo "$(pg_config --bindir)/pgbench"
    else
        ls -d /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -1 | grep .
    fi
}
pgbench="$(locate_pgbench)" || { echo "pgbench not found: pass --pgbench PATH" >&2; exit 1; }
[ -x "$pgbench" ] || { echo "pgbench at $pgbench is not executable" >&2; exit 1; }
# psql of the same installation when it is there, so both speak the same version.
psql="$(dirname "$pgbench")/psql"
[ -x "$psql" ] || psql="$(command -v psql)" || { echo "psql not found next to $pgbench or on PATH" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "python3 is needed to compute the latency percentiles" >&2; exit 1; }

export PGHOST="$host" PGPORT="$port" PGUSER="$user" PGDATABASE="$dbname"
baseline_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../bench/baseline" && pwd)"
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

sql() { "$psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# A finalisation closes its session for good, so each level needs as many fresh sessions as it will
# finalise, seeded before the clock starts. The expected rate is the previous level's, scaled by the
# growth in clients but at most doubled (rates grow slower than clients), or 300 a second per client for
# the first level; half as many again are seeded for slack. A level that still runs out is run again with
# twice the rate it reached.
first_level_rate_per_client=300
slack=1.5
attempts_per_level=3

sessions_for() { # rate per second → sessions to have ready
    awk -v rate="$1" -v seconds="$duration" -v slack="$slack" 'BEGIN { printf "%d\n", rate * seconds * slack + 100 }'
}

# Seeds the sessions, then gives every level the same start: fresh planner statistics, hint bits set on the
# seeded rows, and no checkpoint of the seeding's writes falling inside the measured run.
prepare_level() { # sessions
    local added
    added="$(sql -c "SELECT baseline.seed_sessions($1)")"
    echo "seeded $added sessions (30 recorded items each)" >&2
    sql -c "VACUUM (ANALYZE) baseline.tenants, baseline.subjects, baseline.assignments, baseline.delivery_sessions,
                baseline.submissions, baseline.submission_items, baseline.submission_subjects, baseline.ledger_events,
                baseline.ledger_seal_queue, baseline.outbox, baseline.event_dispatch_queue, baseline.fixtures" >&2
    sql -c "CHECKPOINT" >&2 2>/dev/null || echo "CHECKPOINT refused for $PGUSER; measuring without it" >&2
}

ran_out_of_sessions() {
    [ "$(sql -c "SELECT (SELECT last_value FROM baseline.session_claims)
                        > coalesce((SELECT substr(max(id), 5)::bigint FROM baseline.delivery_sessions), 0)")" = "t" ]
}

claimed_sessions() {
    sql -c "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM baseline.session_claims"
}

# pgbench's summary (tps, transactions, failures) and its per-transaction logs → the level's JSON line.
summarise() { # clients summary-file log-files…
    python3 - "$@" <<'PY'
import json, math, re, sys

clients, summary_path, log_paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
summary = open(summary_path).read()

def number(pattern):
    match = re.search(pattern, summary, re.MULTILINE)
    return float(match.group(1)) if match else None

tps = number(r"^tps = ([0-9.]+)")
transactions = number(r"^number of transactions actually processed: ([0-9]+)")
# Only pgbench 15 and later count failed transactions; before, a failure aborted its client.
failed = number(r"^number of failed transactions: ([0-9]+)") or 0
if tps is None or transactions is None:
    sys.exit("pgbench printed no summary to read")

# Each log line: client, transaction number, latency in µs (or failed / skipped / the failure kind), script,
# epoch seconds, microseconds, and optional lag and retries. Successful transactions only.
latencies_us = []
for path in log_paths:
    with open(path) as log:
        for line in log:
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies_us.append(int(fields[2]))
latencies_us.sort()
if not latencies_us:
    sys.exit("pgbench logged no successful transaction")

def percentile(p):  # nearest rank
    return latencies_us[max(0, math.ceil(p / 100 * len(latencies_us)) - 1)] / 1000

print(json.dumps({
    "clients": clients,
    "tps": round(tps, 2),
    "latency_ms": {"p50": percentile(50), "p95": percentile(95), "p99": percentile(99), "max": latencies_us[-1] / 1000},
    "transactions": int(transactions),
    "failed": int(failed),
}, separators=(",", ":")))
PY
}

echo "loading $baseline_dir/schema.sql into $dbname (schema baseline) with $("$pgbench" --version)" >&2
sql -f "$baseline_dir/schema.sql" >&2

previous_level="" previous_rate=""
for level in ${levels//,/ }; do
    if [ -z "$previous_rate" ]; then
        rate=$((first_level_rate_per_client * level))
    else
        rate="$(awk -v r="$previous_rate" -v l="$level" -v p="$previous_level" 'BEGIN { g = l / p; if (g > 2) g = 2; if (g < 1) g = 1; print r * g }')"
    fi
    for attempt in $(seq 1 "$attempts_per_level"); do
        echo "== $level clients, attempt $attempt: ${duration}s" >&2
        prepare_level "$(sessions_for "$rate")"
        claimed_before="$(claimed_sessions)"
        prefix="$workdir/level-$level-attempt-$attempt"
        status=0
        "$pgbench" -n -M extended -c "$level" -j $((level < 2 ? level : 2)) -T "$duration" -P 5 \
            -f "$baseline_dir/finalisation.sql" -l --log-prefix="$prefix" >"$prefix.summary" || status=$?
        cat "$prefix.summary" >&2
        if ran_out_of_sessions; then
            rate="$(awk -v n="$(( $(claimed_sessions) - claimed_before ))" -v s="$duration" 'BEGIN { print 2 * n / s }')"
            echo "ran out of seeded sessions; running $level clients again with more" >&2
            continue
        fi
        if [ "$status" -ne 0 ]; then
            echo "pgbench failed at $level clients (exit $status); see its messages above" >&2
            exit 1
        fi
        summarise "$level" "$prefix.summary" "$prefix".[0-9]*
        previous_level="$level"
        previous_rate="$(awk '/^tps = / { print $3 }' "$prefix.summary")"
        continue 2
    done
    echo "still running out of sessions at $level clients after $attempts_per_level attempts" >&2
    exit 1
done
