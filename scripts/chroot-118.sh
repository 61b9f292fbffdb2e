#!/usr/bin/env bash
# chroot-118.sh: a Debian 13 (trixie) chroot with MariaDB 11.8, Galera 4 and
# mariadb-test, for running the tests against 11.8 on a Debian 12 machine.
#
#   chroot-118.sh build          build the chroot if missing or stale
#   chroot-118.sh status         exit 0 if it is built and current, else 1
#   chroot-118.sh path           print its root directory
#   chroot-118.sh run -- CMD...  (build if needed, then) run CMD inside it
#
# The chroot lives at $SST_CHROOT (default /var/cache/wsrep-sst-go/trixie).
# It is rebuilt only when missing or when the package list below changes:
# the stamp file holds the list's hash. No service starts in it: a
# policy-rc.d that exits 101 is in place before anything is installed.
#
# Mounts (/proc, /sys, /dev, /dev/pts, /dev/shm and the root bound on itself,
# so that "unshare --propagation private" works inside) are made in a private
# mount namespace of the command: nobody else sees them, and they vanish when
# its last process exits, on every exit path including SIGKILL. "run" execs
# the command (its pid is the command's), so signals reach it directly.
# The build also unmounts explicitly from an EXIT trap.
#
# Needs root. The mirror is the one apt already uses (/etc/apt/sources.list*),
# or $SST_CHROOT_MIRROR.
set -euo pipefail

ROOT=${SST_CHROOT:-/var/cache/wsrep-sst-go/trixie}
SUITE=trixie
# socat: the stock script's transport; iproute2/lsof/procps: its listener
# checks (ss, lsof, pgrep); lz4/zstd/openssl: its compressors and encryption.
PKGS="mariadb-server mariadb-backup galera-4 mariadb-test socat iproute2 lsof procps lz4 zstd openssl"
STAMP=$ROOT/.wsrep-sst-go-stamp

die() { echo "chroot-118.sh: $*" >&2; exit 1; }

want_stamp() {
    printf '%s %s\n' "$SUITE" "$PKGS" | sha256sum | cut -d' ' -f1
}

is_current() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(want_stamp)" ] && [ -x "$ROOT/usr/sbin/mariadbd" ]
}

# mirror prints the Debian mirror apt uses: the first non-security URI of a
# deb source (deb822 .sources or one-line .list).
mirror() {
    if [ -n "${SST_CHROOT_MIRROR:-}" ]; then
        echo "$SST_CHROOT_MIRROR"
        return
    fi
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/ && $i ~ /debian/) { print $i; exit } }')
    if [ -z "$m" ]; then
        m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(http|https|file):/) { if ($i !~ /security/ && $i ~ /debian/) { print $i; exit } break } }')
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

# mount_all ROOT: the mounts a command inside needs. Call only inside a
# private mount namespace.
mount_all() {
    local r=$1
    mount --bind "$r" "$r"
    mount -t proc proc "$r/proc"
    mount --rbind /sys "$r/sys"
    mount --bind /dev "$r/dev"
    mount --bind /dev/pts "$r/dev/pts"
    if [ -d /dev/shm ]; then
        mount --bind /dev/shm "$r/dev/shm"
    fi
}

umount_all() {
    local r=$1 m
    for m in dev/shm dev/pts dev sys proc; do
        if mountpoint -q "$r/$m"; then
            umount -l "$r/$m" || true
        fi
    done
    if mountpoint -q "$r"; then
        umount -l "$r" || true
    fi
}

# fixups makes what debootstrap leaves out and the tests need; cheap, so it
# runs on every build call, also for a chroot built by an older script.
fixups() {
    local r=$1
    # mariadb-install-db gives up when neither the host name nor
    # "localhost" resolves (resolveip).
    if [ ! -e "$r/etc/hosts" ]; then
        printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
    fi
}

do_build() {
    [ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mount need it)"
    if is_current; then
        fixups "$ROOT"
        return 0
    fi
    command -v debootstrap >/dev/null || "$(dirname "$0")/install-deps.sh" --chroot
    local new=$ROOT.new mir
    mir=$(mirror)
    echo "chroot-118.sh: building $ROOT ($SUITE from $mir): $PKGS" >&2
    rm -rf "$new"
    # A failed build leaves nothing half-made behind.
    trap "rm -rf '$new'" EXIT
    mkdir -p "$(dirname "$ROOT")"
    debootstrap --variant=minbase "$SUITE" "$new" "$mir" >&2 ||
        die "debootstrap $SUITE from $mir failed (no network to the mirror? set SST_CHROOT_MIRROR)"
    printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
    chmod 0755 "$new/usr/sbin/policy-rc.d"
    printf 'deb %s %s main\n' "$mir" "$SUITE" >"$new/etc/apt/sources.list"
    # The install runs in its own mount namespace; the trap is for the
    # normal and error exits, the namespace for everything else.
    unshare -m --propagation private bash -c '
        set -euo pipefail
        r=$1; shift
        . "$0" __lib
        trap "umount_all \"$r\"" EXIT
        mount_all "$r"
        chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
            sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $*" >&2
    ' "$0" "$new" $PKGS || die "installing $PKGS in $new failed"
    rm -rf "$new/var/cache/apt/archives/"*.deb
    fixups "$new"
    want_stamp >"$new/.wsrep-sst-go-stamp"
    rm -rf "$ROOT.old"
    if [ -d "$ROOT" ]; then
        mv "$ROOT" "$ROOT.old"
    fi
    mv "$new" "$ROOT"
    trap - EXIT
    rm -rf "$ROOT.old"
    echo "chroot-118.sh: built $ROOT" >&2
}

# build under a lock, so concurrent callers wait for one build.
build() {
    mkdir -p "$(dirname "$ROOT")"
    exec 9>"$ROOT.lock"
    flock 9
    do_build
    exec 9>&-
}

if [ "${1:-}" = __lib ]; then
    return 0 2>/dev/null || exit 0
fi

cmd=${1:-}
shift || true
case $cmd in
build)
    build
    ;;
status)
    is_current
    ;;
path)
    echo "$ROOT"
    ;;
run)
    [ "${1:-}" = -- ] && shift
    [ $# -gt 0 ] || die "usage: chroot-118.sh run -- CMD..."
    [ "$(id -u)" -eq 0 ] || die "run as root (chroot and mount need it)"
    is_current || build
    exec unshare -m --propagation private bash -c '
        set -euo pipefail
        r=$1; shift
        . "$0" __lib
        mount_all "$r"
        exec chroot "$r" "$@"
    ' "$0" "$ROOT" "$@"
    ;;
*)
    die "usage: chroot-118.sh build|status|path|run -- CMD..."
    ;;
esac
