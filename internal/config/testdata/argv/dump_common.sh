#!/usr/bin/env bash
# dump_common.sh ARGV... : source the stock /usr/bin/wsrep_sst_common with
# ARGV as its positional parameters, then print the variables its argument
# loop resolves, one "NAME=value" per line, followed by "EXIT=<status>".
# If the script exits early (bad role, port conflict, missing --datadir),
# the EXIT trap still prints the variables and the script's exit status.
# The "[ERROR]" lines the script logs are printed as "ERROR=<message>"
# (timestamps removed, if any: the port-conflict message has none), so
# golden files stay stable.
#
# Side effects of the stock script are neutralised so that the helper is
# hermetic: my_print_defaults is a no-op shell function (the script finds
# it through "command -v", so /etc/mysql is never read), and mkdir is a
# no-op so create_data does not create the datadir.
#
# Usage (from internal/config):
#   env -i PATH=/usr/bin:/bin LC_ALL=C bash testdata/argv/dump_common.sh --role joiner ...
#
# WSREP_SST_COMMON overrides the script path (default /usr/bin/wsrep_sst_common).

my_print_defaults() { :; }
mkdir() { :; }

__dump_errfile=$(mktemp)

__dump() {
    local rc=$?
    trap - EXIT
    exec 2>&3
    local v
    for v in ROLE ADDR HOST HOST_UNESCAPED HOST_IPv6 ADDR_PORT PORT PATH \
             MODULE LSN SST_VER LPORT SOCKET PARENT BYPASS PROGRESS DATA \
             USER PSWD GTID GTID_DOMAIN_ID BINLOG BINLOG_INDEX LOG_BASENAME \
             DEFAULT EXTRA_DEFAULT SUFFIX_VALUE MYSQLD; do
        local name="WSREP_SST_OPT_$v"
        printf '%s=%s\n' "$v" "${!name-}"
    done
    for v in ARIA_LOG_DIR INNODB_DATA_HOME_DIR INNODB_LOG_GROUP_HOME \
             INNODB_UNDO_DIR INNODB_BUFFER_POOL INNODB_BUFFER_POOL_SIZE \
             INNODB_FORCE_RECOVERY INNOEXTRA; do
        printf '%s=%s\n' "$v" "${!v-}"
    done
    sed -n -e 's/^WSREP_SST: \[ERROR\] \(.*\) ([0-9]\{8\} [0-9:.]*)$/ERROR=\1/p;t' \
           -e 's/^WSREP_SST: \[ERROR\] /ERROR=/p' "$__dump_errfile"
    rm -f "$__dump_errfile"
    printf 'EXIT=%s\n' "$rc"
    exit "$rc"
}

exec 3>&2 2>"$__dump_errfile"
trap __dump EXIT
# shellcheck source=/dev/null
. "${WSREP_SST_COMMON:-/usr/bin/wsrep_sst_common}"
