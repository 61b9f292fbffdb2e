// Package galeratest starts real MariaDB Galera nodes on the loopback
// interface so that end-to-end tests and the sstlab developer tool can run
// real state snapshot transfers (SST) and incremental state transfers (IST)
// through an SST program of our choice.
//
// A Cluster owns a base directory; each Node gets its own datadir, socket,
// ports, option file and a private bin directory holding the SST program as
// wsrep_sst_<method>. mysqld puts its own bin directory first on PATH, so a
// program named wsrep_sst_mariabackup would always resolve to the system
// script; a distinct method name is what lets us substitute ours.
//
// By default every mariadbd runs as root with its datadir a plain directory
// under the base dir. Production differs, and permission and filesystem
// bugs hide in the difference, so two settings reproduce it: Options.User
// ("mysql") runs the nodes as that system user, with the directories it
// writes owned by it and the passwordless unix_socket SST user of the user
// documentation (wsrep_sst_auth=mysql:); NodeConfig.Volume makes a node's
// datadir the root of a loop-mounted ext4, xfs or btrfs filesystem of its
// own, lost+found included, which Cluster.Close unmounts.
//
// The cluster itself knows nothing about testing.T: it takes a log
// function and returns errors, so a command-line tool (sstlab) can reuse
// it. Only the thin helpers for tests take a testing.TB: Integration (the
// SST_INTEGRATION gate), NewTestCluster, StartSynced (harness.go),
// AssertSameData, SSTProgram, FreePort and ScratchVolume. It does
// not manage system services and never touches /etc/mysql; every process it
// starts is stopped by Node.Stop, Node.Kill or Cluster.Close.
//
// The integration tests of this package start a real two-node cluster and
// run only with SST_INTEGRATION=1 (as root, with mariadb-server,
// mariadb-backup, galera-4 and socat installed; e2fsprogs for the volume
// test):
//
//	SST_INTEGRATION=1 go test -v ./internal/galeratest/
package galeratest
