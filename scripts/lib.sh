#!/usr/bin/env bash
# Shared by the scripts that start test servers (mail-stack, pg-stack).
# Source it after setting SELF (the script's own path) and, before calling
# start_watcher, DIR (the stack's directory).

PROG=$(basename "${SELF:-$0}")
LIB_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")

die() {
    echo "$PROG: $*" >&2
    exit 1
}

log() {
    echo "$PROG: $*" >&2
}


# --- packages ---------------------------------------------------------------

ensure_packages() {
    "$LIB_DIR/ensure-packages" "$@"
}

# --- ports ------------------------------------------------------------------

# Does something accept connections on 127.0.0.1:$1?
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Set the variable named $1 to a loopback port that no socket uses.
# Ports come from below the kernel's ephemeral range, so neither an outgoing
# connection nor a test's port-0 listener can take one between our pick and
# the server's bind. TAKEN holds this process's picks (pick_port assigns
# in place, not in a $(...) subshell, so TAKEN keeps them); another stack
# starting at the same moment can still pick the same port, which is why
# mail-stack retries a start that failed with "Address already in use".
TAKEN=" "
pick_port() {
    local -n picked=$1
    local low high port
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    high=$((low - 1))
    # An unusual ephemeral range: fall back to the registered range's top.
    ((high >= 11000)) || high=49151
    for _ in $(seq 1 200); do
        port=$((10000 + (RANDOM * 32768 + RANDOM) % (high - 10000 + 1)))
        [[ "$TAKEN" == *" $port "* ]] && continue
        if ! ss -Htan "sport = :$port" 2>/dev/null | grep -q . && ! port_open "$port"; then
            TAKEN+="$port "
            picked=$port
            return 0
        fi
    done
    die "no free port found"
}

# Wait until PORT accepts connections; fail with the log's tail when the
# process PID dies or TIMEOUT seconds pass.
wait_port() {
    local name=$1 port=$2 pid=$3 logfile=$4 timeout=${5:-20}
    local deadline=$((SECONDS + timeout))
    until port_open "$port"; do
        if ! running "$pid"; then
            log "$name (pid $pid) exited before listening on port $port; last lines of $logfile:"
            tail -n 30 "$logfile" >&2 || true
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            log "$name not listening on port $port after ${timeout}s; last lines of $logfile:"
            tail -n 30 "$logfile" >&2 || true
            exit 1
        fi
        sleep 0.05
    done
    # Someone else may answer on the port (a stack that picked it too): ours
    # must still be running once the port answers.
    sleep 0.1
    if ! running "$pid"; then
        log "$name (pid $pid) exited although port $port answers; last lines of $logfile:"
        tail -n 30 "$logfile" >&2 || true
        exit 1
    fi
}

# --- processes --------------------------------------------------------------

# Is process $1 running? A zombie is not: our daemons outlive the script that
# started them, and this machine's init may take its time to reap them.
running() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n "$state" && "$state" != Z ]]
}

pid_alive() {
    [[ -f "$1" ]] && running "$(cat "$1")"
}

# Stop the process whose pid is in file $1: TERM, then KILL after 10 s.
stop_pidfile() {
    local pidfile=$1 pid
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile")
    if running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 200); do
            running "$pid" || break
            sleep 0.05
        done
        if running "$pid"; then
            log "pid $pid ignored TERM, killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # Children can outlive their parent: Dovecot's master leaves the imap
    # processes of open sessions behind. Each daemon was started by setsid,
    # so everything it started shares its session id (= its pid): end those.
    if [[ "$pid" =~ ^[0-9]+$ ]] && ((pid > 1)); then
        pkill -TERM -s "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            # Zombies (state Z) wait for init to reap them: they do not count.
            # shellcheck disable=SC2009 # pgrep cannot skip zombies
            ps -o stat= -s "$pid" 2>/dev/null | grep -qv '^Z' || break
            sleep 0.05
        done
        pkill -KILL -s "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# --- watcher ----------------------------------------------------------------

# Stop the stack once process $1 exits. Detached from our stdout/stderr so
# whoever runs `start` and reads its output is not kept waiting.
start_watcher() {
    local pid=$1
    running "$pid" || die "--watch: no process $pid"
    # shellcheck disable=SC2016 # $1..$3 expand in the inner bash
    setsid bash -c '
        # Until process $1 has gone (or is a zombie), look twice a second.
        while [[ "$(awk "{print \$3}" "/proc/$1/stat" 2>/dev/null || echo gone)" =~ ^[^Zg] ]]; do
            sleep 0.5
        done
        rm -f "$3/watch.pid"
        exec "$2" stop "$3" --clean' watch "$pid" "$SELF" "$DIR" \
        </dev/null >>"$DIR/watch.log" 2>&1 &
    echo $! >"$DIR/watch.pid"
}


# --- logs kept for a failed run -----------------------------------------------

# Copy the server logs named by $@ (paths inside DIR) to $TEST_SERVER_LOGS,
# when set, before DIR is removed: scripts/test prints their errors when a
# test step fails, after the test process (and its stacks) have gone.
keep_logs() {
    [[ -n "${TEST_SERVER_LOGS:-}" ]] || return 0
    mkdir -p "$TEST_SERVER_LOGS" || return 0
    local file
    for file in "$@"; do
        [[ -f "$DIR/$file" ]] || continue
        cp "$DIR/$file" "$TEST_SERVER_LOGS/$(basename "$DIR")-$(basename "$file")" || true
    done
}
