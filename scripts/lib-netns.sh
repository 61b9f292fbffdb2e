# Sourced by bench-link.sh and bench-scale.sh: builds the program and
# sstlab, and makes a network namespace of its own for the run, so that
# the loopback's byte counter counts only the benchmark's traffic. Sets
# program, tmp and ns; removes the namespace and tmp on exit.
# Usage: netns_setup NAME   (NAME: a prefix for the temp dir and namespace)

netns_setup() {
    local name=$1
    if [ "$(id -u)" -ne 0 ]; then
        echo "$0: needs root (ip netns, mariadbd nodes)" >&2
        exit 1
    fi
    ./scripts/install-deps.sh
    program=${SST_PROGRAM:-}
    if [ -z "$program" ]; then
        make -s build
        program=bin/wsrep_sst_mariabackup
    fi
    # Built here so that go itself never runs inside the namespace.
    tmp=$(mktemp -d "/tmp/$name.XXXXXX")
    go build -o "$tmp/sstlab" ./internal/galeratest/sstlab
    ns=$name$$
    trap netns_cleanup EXIT
    # sstlab gets the same INT/TERM from the terminal and stops its nodes;
    # bash runs these once it has exited.
    trap 'exit 130' INT
    trap 'exit 143' TERM
    ip netns add "$ns"
    ip -n "$ns" link set lo up
}

# Commands netns_cleanup runs first, e.g. to unmount what a script mounted.
cleanup_first=()

netns_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local c
    for c in "${cleanup_first[@]}"; do
        eval "$c" || true
    done
    if ip netns list | grep -qw "$ns"; then
        # Anything of ours left in the namespace (sstlab stops its nodes
        # itself; this is for a kill of sstlab).
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$ns" || echo "$0: could not remove network namespace $ns" >&2
    fi
    rm -rf "$tmp"
    exit "$rc"
}

# size_mb SIZE: SIZE (2G, 500M or a number of MB) in MB.
size_mb() {
    case "$1" in
        *[gG]) echo $(( ${1%[gG]} * 1024 )) ;;
        *[mM]) echo "${1%[mM]}" ;;
        *) echo "$1" ;;
    esac
}
