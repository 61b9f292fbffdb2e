package sst

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/format/mbstream"
	"wsrep_sst_mariabackup/internal/galeratest"
)

// These tests start real mariadbd + Galera nodes on loopback with our
// binary installed as wsrep_sst_<method> on the nodes' PATH, run real SSTs
// and ISTs, and compare table checksums. They need SST_INTEGRATION=1 (set
// by "make test") and the packages scripts/install-deps.sh installs.

func integration(t *testing.T) {
	t.Helper()
	galeratest.Integration(t)
}

// prodUser is the user the nodes' mariadbd runs as, as packaged nodes
// run it: root passes permission checks that production fails.
const prodUser = "mysql"

// cluster makes a cluster whose nodes' PATH resolves wsrep_sst_<method>
// to the program each node config names, laid out as packaged nodes are:
// mariadbd runs as mysql, the SST user is 'mysql'@'localhost' via
// unix_socket (wsrep_sst_auth=mysql:). Give a node joinerVolume() to put
// its datadir at the root of an ext4 filesystem of its own.
func cluster(t *testing.T, method string) (*galeratest.Cluster, context.Context) {
	t.Helper()
	return newCluster(t, galeratest.Options{Dir: t.TempDir(), Method: method, Log: t.Logf, User: prodUser})
}

// rootCluster is cluster with mariadbd run as root in a temporary
// directory: only for cases that need it (each caller says why).
func rootCluster(t *testing.T, method string) (*galeratest.Cluster, context.Context) {
	t.Helper()
	return newCluster(t, galeratest.Options{Dir: t.TempDir(), Method: method, Log: t.Logf})
}

func newCluster(t *testing.T, opts galeratest.Options) (*galeratest.Cluster, context.Context) {
	t.Helper()
	c := galeratest.NewTestCluster(t, opts)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	t.Cleanup(cancel)
	return c, ctx
}

// loadedPair is how most end-to-end tests start: a cluster (method names
// its SST method) of two nodes running our SST program, node 1
// bootstrapped and holding rows rows in sbtest, node 2 (the joiner, on
// joinerVolume) added but not started. ctx ends after timeout.
func loadedPair(t *testing.T, method string, timeout time.Duration, rows int) (ctx context.Context, n1, n2 *galeratest.Node) {
	t.Helper()
	bin := galeratest.SSTProgram(t)
	c, ctx := cluster(t, method)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel)
	n1, n2 = loadedNodes(ctx, t, c, galeratest.NodeConfig{SSTProgram: bin},
		galeratest.NodeConfig{SSTProgram: bin, Volume: joinerVolume()}, rows)
	return ctx, n1, n2
}

// sstPair runs an SST from the donor to the joiner on a fresh cluster
// (method names its SST method) whose donor holds rows rows, and checks
// that the joiner received an SST by our program or, with ours false, by
// the stock script. It returns the cluster's context, the two nodes and
// the joiner's log since its start.
func sstPair(t *testing.T, method string, donor, joiner galeratest.NodeConfig, rows int, ours bool) (ctx context.Context, n1, n2 *galeratest.Node, log string) {
	t.Helper()
	c, ctx := cluster(t, method)
	n1, n2 = loadedNodes(ctx, t, c, donor, joiner, rows)
	d := startSynced(ctx, t, n2, false)
	t.Logf("SST in %v", d.Round(time.Millisecond))
	return ctx, n1, n2, assertTransfer(t, n2, "SST", ours)
}

// loadedNodes adds the donor and the joiner to c, bootstraps the donor
// (node 1) and loads rows rows into its sbtest; the joiner (node 2) is
// added but not started.
func loadedNodes(ctx context.Context, t *testing.T, c *galeratest.Cluster, donor, joiner galeratest.NodeConfig, rows int) (n1, n2 *galeratest.Node) {
	t.Helper()
	n1, err := c.AddNode(donor)
	must(t, err)
	n2, err = c.AddNode(joiner)
	must(t, err)
	startSynced(ctx, t, n1, true)
	must(t, galeratest.LoadData(ctx, n1, "sbtest", rows))
	return n1, n2
}

// joinerVolume is a datadir that is the root of its own ext4 filesystem,
// as a dedicated /var/lib/mysql volume is: it holds lost+found
// (root:root 0700), which mysqld's user can neither list nor move.
func joinerVolume() galeratest.Volume {
	return galeratest.Volume{FS: "ext4", Size: 2 << 30}
}

// mysqlIDs returns the uid and gid of the nodes' user.
func mysqlIDs(t *testing.T) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup(prodUser)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// readableBy gives the files to the nodes' user: certificates and keys
// the SST program reads as mysql, as packaged nodes keep them.
func readableBy(t *testing.T, paths ...string) {
	t.Helper()
	uid, gid := mysqlIDs(t)
	for _, p := range paths {
		must(t, os.Chown(p, uid, gid))
		// Its directory too (t.TempDir is root's, 0700).
		must(t, os.Chmod(filepath.Dir(p), 0o755))
		must(t, os.Chmod(filepath.Dir(filepath.Dir(p)), 0o755))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func startSynced(ctx context.Context, t *testing.T, n *galeratest.Node, bootstrap bool) time.Duration {
	t.Helper()
	return galeratest.StartSynced(ctx, t, n, bootstrap)
}

func assertSameData(ctx context.Context, t *testing.T, a, b *galeratest.Node) {
	t.Helper()
	galeratest.AssertSameData(ctx, t, a, b)
}

func assertTransfer(t *testing.T, n *galeratest.Node, want string, ours bool) string {
	t.Helper()
	log, err := n.LogSinceStart()
	must(t, err)
	if got := galeratest.StateTransfer(log); got != want {
		t.Errorf("%s: state transfer = %q, want %q", n.Name(), got, want)
	}
	// Our joiner's own lines, in the script's format, prove which program ran.
	const mark = "WSREP_SST: [INFO] Data stream from the donor started"
	if want == "SST" && ours != strings.Contains(log, mark) {
		t.Errorf("%s: our joiner ran = %v, want %v", n.Name(), !ours, ours)
	}
	return log
}

// assertLogged reports problem, with the WSREP_SST lines of log, unless
// log contains want.
func assertLogged(t *testing.T, log, want, problem string) {
	t.Helper()
	if !strings.Contains(log, want) {
		t.Errorf("%s:\n%s", problem, grep(log, "WSREP_SST"))
	}
}

func grep(s string, words ...string) string { return galeratest.Grep(s, words...) }

func TestE2ESSTThenIST(t *testing.T) {
	integration(t)
	bin := galeratest.SSTProgram(t)
	c, ctx := cluster(t, "gotest")
	n1, err := c.AddNode(galeratest.NodeConfig{SSTProgram: bin})
	must(t, err)
	n2, err := c.AddNode(galeratest.NodeConfig{SSTProgram: bin, Volume: joinerVolume()})
	must(t, err)
	// [sst] status-file on both nodes: checked after the SST below.
	for _, n := range []*galeratest.Node{n1, n2} {
		must(t, n.Reconfigure(func(c *galeratest.NodeConfig) {
			c.SST = []string{"status-file=" + filepath.Join(n.Dir(), "sst-status.json")}
		}))
	}
	startSynced(ctx, t, n1, true)
	must(t, galeratest.LoadData(ctx, n1, "sbtest", 20000))

	d := startSynced(ctx, t, n2, false)
	t.Logf("node2 joined by SST in %v", d.Round(time.Millisecond))
	log := assertTransfer(t, n2, "SST", true)
	for _, tt := range []struct {
		n      *galeratest.Node
		stages []string
	}{
		{n2, []string{"listening", "gtid", "receiving", "preparing", "swapping", "done"}},
		{n1, []string{"gtid", "sending", "done"}},
	} {
		doc := readStatus(t, filepath.Join(tt.n.Dir(), "sst-status.json"))
		if got := stageNames(doc); !slices.Equal(got, tt.stages) || doc.BytesDone <= 0 {
			t.Errorf("%s status file: stages %q, bytes_done %d; want %q and the bytes moved", tt.n.Name(), got, doc.BytesDone, tt.stages)
		}
	}
	if strings.Contains(log, "[ERROR]") && strings.Contains(log, "WSREP_SST") {
		t.Errorf("SST logged errors:\n%s", grep(log, "WSREP_SST: [ERROR]"))
	}
	assertSameData(ctx, t, n1, n2)
	if _, err := os.Stat(filepath.Join(n2.Datadir(), "mariabackup.prepare.log")); err != nil {
		t.Errorf("joiner has no prepare log: %v", err)
	}
	for _, f := range []string{"sst_in_progress", "wsrep_sst.pid", ".sst"} {
		if _, err := os.Stat(filepath.Join(n2.Datadir(), f)); err == nil {
			t.Errorf("joiner left %s behind", f)
		}
	}
	// The volume's lost+found is the filesystem's: left as it was.
	if fi, err := os.Stat(filepath.Join(n2.Datadir(), "lost+found")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("joiner's lost+found: %v, %v; want it kept, 0700", fi, err)
	}

	must(t, n2.Stop(ctx))
	must(t, galeratest.InsertRows(ctx, n1, "sbtest", 2000))
	d = startSynced(ctx, t, n2, false)
	t.Logf("node2 rejoined by IST in %v", d.Round(time.Millisecond))
	assertTransfer(t, n2, "IST", true)
	assertSameData(ctx, t, n1, n2)
}

// TestE2EBinlogGTIDStrictUnderLoad is the MDEV-38147 scenario: binlog and
// gtid_strict_mode on, and the donor takes writes while it donates.
func TestE2EBinlogGTIDStrictUnderLoad(t *testing.T) {
	integration(t)
	bin := galeratest.SSTProgram(t)
	c, ctx := cluster(t, "gotestbl")
	gtid := []string{"log-bin=mysql-bin", "log_slave_updates=ON", "gtid_strict_mode=ON",
		"wsrep_gtid_mode=ON", "wsrep_gtid_domain_id=9", "server_id=1"}
	n1, n2 := loadedNodes(ctx, t, c, galeratest.NodeConfig{SSTProgram: bin, Mysqld: append([]string{"gtid_domain_id=1"}, gtid...)},
		galeratest.NodeConfig{SSTProgram: bin, Mysqld: append([]string{"gtid_domain_id=2"}, gtid...)}, 20000)

	stop := make(chan struct{})
	writes := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				t.Logf("%d write batches during the SST", n)
				writes <- nil
				return
			default:
			}
			if err := galeratest.InsertRows(ctx, n1, "sbtest", 50); err != nil {
				writes <- err
				return
			}
			n++
		}
	}()
	d := startSynced(ctx, t, n2, false)
	close(stop)
	must(t, <-writes)
	t.Logf("node2 joined by SST under load in %v", d.Round(time.Millisecond))
	log := assertTransfer(t, n2, "SST", true)
	assertLogged(t, log, "binary log", "joiner did not handle the received binlog (MDEV-38147)")
	assertSameData(ctx, t, n1, n2)
	// The joiner writes its own binlog and keeps replicating in strict mode.
	must(t, galeratest.InsertRows(ctx, n2, "sbtest", 100))
	assertSameData(ctx, t, n1, n2)
	if out, err := n2.Exec(ctx, "SELECT @@gtid_binlog_pos"); err != nil || !strings.Contains(out, "9-1-") {
		t.Errorf("joiner gtid_binlog_pos = %q (%v), want domain 9 transactions", out, err)
	}
}

// Mixed clusters: the same method name resolves to the stock script on one
// node and to our binary on the other.
func TestE2EMixedStockDonorOurJoiner(t *testing.T) {
	integration(t)
	bin := galeratest.SSTProgram(t)
	ctx, n1, n2, log := sstPair(t, "gomixa", galeratest.NodeConfig{StockScript: true}, galeratest.NodeConfig{SSTProgram: bin}, 10000, true)
	// Our joiner offered transfer v2 (mysqld passed the offer to the
	// stock donor's command line); the stock donor ignored it and sent
	// the stock stream.
	donorLog, err := n1.ErrorLog()
	must(t, err)
	if !strings.Contains(donorLog, "/xtrabackup_sst/xfer-v") {
		t.Errorf("the stock donor's address has no v2 offer:\n%s", grep(donorLog, "--address"))
	}
	assertLogged(t, log, "The donor sends the stock stream", "our joiner did not read the stock stream")
	// mysqld handed the stock donor the secret of our joiner's address
	// (donor-auth=auto), and its send_magic echoed it.
	assertLogged(t, log, "proved this joiner's secret in the gtid stage", "our joiner did not check the stock donor's secret")
	assertSameData(ctx, t, n1, n2)
}

// TestE2EMixedStrays: while a node joins, strays hammer its SST port from
// other addresses (a health check that connects and closes, garbage, a
// silent peer, a gtid stage without the secret and one with a wrong
// secret), before and during the transfer; with a stock donor and with
// ours, each is refused and logged and the SST succeeds.
func TestE2EMixedStrays(t *testing.T) {
	integration(t)
	bin := galeratest.SSTProgram(t)
	for _, tc := range []struct {
		name  string
		donor galeratest.NodeConfig
	}{
		{"stock-donor", galeratest.NodeConfig{StockScript: true}},
		{"our-donor", galeratest.NodeConfig{SSTProgram: bin}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ctx := cluster(t, "gostray")
			n1, n2 := loadedNodes(ctx, t, c, tc.donor, galeratest.NodeConfig{SSTProgram: bin, Volume: joinerVolume()}, 10000)
			sctx, stop := context.WithCancel(ctx)
			done := make(chan int)
			go func() { done <- strays(sctx, n2.SSTAddress()) }()
			d := startSynced(ctx, t, n2, false)
			stop()
			n := <-done
			t.Logf("SST in %v with %d stray connections to the joiner's port", d.Round(time.Millisecond), n)
			log := assertTransfer(t, n2, "SST", true)
			assertLogged(t, log, "Refused a connection to the SST port from 127.0.0.", fmt.Sprintf("no stray was refused (%d sent)", n))
			assertSameData(ctx, t, n1, n2)
		})
	}
}

// strays connects to addr from 127.0.0.2-5 in turns until ctx is done, in
// the five ways of TestE2EMixedStrays, and returns how many connections
// it made.
func strays(ctx context.Context, addr string) int {
	n := 0
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := 0; ctx.Err() == nil; i++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%4))}, Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		n++
		switch i % 5 {
		case 0: // a health check
			c.Close()
		case 1:
			_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
			open = append(open, c)
		case 2: // silent
			open = append(open, c)
		case 3, 4:
			w := mbstream.NewWriter(c)
			info := "00000000-0000-0000-0000-000000000000:-1 0\n"
			if i%5 == 4 {
				info += "secret 0123456789abcdef0123456789abcdef\n"
			}
			_ = w.WriteFile(infoFile, []byte(info))
			_ = w.Close()
			open = append(open, c)
		}
		if len(open) > 50 {
			open[0].Close()
			open = open[1:]
		}
		time.Sleep(30 * time.Millisecond)
	}
	return n
}

func TestE2EMixedOurDonorStockJoiner(t *testing.T) {
	integration(t)
	bin := galeratest.SSTProgram(t)
	ctx, n1, n2, _ := sstPair(t, "gomixb", galeratest.NodeConfig{SSTProgram: bin}, galeratest.NodeConfig{StockScript: true}, 10000, false)
	donorLog, err := n1.ErrorLog()
	must(t, err)
	assertLogged(t, donorLog, "WSREP_SST: [INFO] Sent ", "our donor's lines are missing from the donor's error log")
	if strings.Contains(donorLog, "transfer v2") {
		t.Errorf("our donor ran transfer v2 towards a stock joiner:\n%s", grep(donorLog, "WSREP_SST"))
	}
	assertSameData(ctx, t, n1, n2)
}

// TestE2ECompressWithoutQpress: the donor's mariadb-backup compresses
// every file (compress=quicklz); our joiner decompresses the .qp files
// natively, with no qpress program installed.
func TestE2ECompressWithoutQpress(t *testing.T) {
	integration(t)
	if p, err := exec.LookPath("qpress"); err == nil {
		t.Logf("note: %s is installed but not used", p)
	}
	bin := galeratest.SSTProgram(t)
	sst := []string{"compress=quicklz", "compress-threads=2"}
	node := galeratest.NodeConfig{SSTProgram: bin, SST: sst}
	ctx, n1, n2, log := sstPair(t, "goqp", node, node, 10000, true)
	assertLogged(t, log, "Compressed qpress files found", "the joiner received no .qp files")
	assertSameData(ctx, t, n1, n2)
}

// TestE2EInterop runs real SSTs between our binary and the stock script in
// both directions for every transport the script has: lz4 and zstd
// compression, TLS with encrypt=2 and 3, ssl-mode VERIFY_CA and
// VERIFY_IDENTITY (with the joiner's <CN>:<secret>@ address prefix), and
// encrypt=1 (openssl enc).
func TestE2EInterop(t *testing.T) {
	integration(t)
	bin := galeratest.SSTProgram(t)
	certs := makeCerts(t, t.TempDir(), time.Now().Add(24*time.Hour))
	readableBy(t, certs.CA, certs.Cert, certs.Key, certs.Combined) // as packaged nodes keep them
	configs := []struct {
		name string
		sst  []string
		// ourLog must appear in the error log of the node running our
		// binary: proof that the transport was really in use.
		ourLog string
	}{
		{"lz4", []string{"compressor=lz4 -z", "decompressor=lz4 -d"}, "(in-process lz4 "},
		{"zstd", []string{"compressor=zstd -3 -T2", "decompressor=zstd -dc"}, "(in-process zstd "},
		{"encrypt2", []string{"encrypt=2", "tca=" + certs.CA, "tcert=" + certs.Combined}, "with crt and pem"},
		{"encrypt3", []string{"encrypt=3", "tca=" + certs.CA, "tcert=" + certs.Cert, "tkey=" + certs.Key}, "with key and crt"},
		{"verifyca", []string{"ssl-mode=VERIFY_CA", "ssl-ca=" + certs.CA, "ssl-cert=" + certs.Cert, "ssl-key=" + certs.Key}, "Verifying peer certificate chain for ssl-mode=VERIFY_CA"},
		{"verifyid", []string{"ssl-mode=VERIFY_IDENTITY", "ssl-ca=" + certs.CA, "ssl-cert=" + certs.Cert, "ssl-key=" + certs.Key}, "MODE='VERIFY_IDENTITY', encrypt='3'"},
		{"encrypt1", []string{"encrypt=1", "encrypt-algo=aes-256-cbc", "encrypt-key=0123456789abcdef0123456789abcdef"}, "Key based encryption enabled"},
	}
	for _, cf := range configs {
		for _, dir := range []string{"ours-to-stock", "stock-to-ours"} {
			t.Run(cf.name+"/"+dir, func(t *testing.T) {
				donor := galeratest.NodeConfig{SSTProgram: bin, SST: cf.sst}
				joiner := galeratest.NodeConfig{StockScript: true, SST: cf.sst}
				if dir == "stock-to-ours" {
					donor, joiner = joiner, donor
				}
				ctx, n1, n2, _ := sstPair(t, "gox"+cf.name, donor, joiner, 3000, dir == "stock-to-ours")
				assertSameData(ctx, t, n1, n2)
				ours := n1
				if dir == "stock-to-ours" {
					ours = n2
				}
				log, err := ours.ErrorLog()
				must(t, err)
				assertLogged(t, log, cf.ourLog, fmt.Sprintf("%s's log lacks %q", ours.Name(), cf.ourLog))
			})
		}
	}
}
