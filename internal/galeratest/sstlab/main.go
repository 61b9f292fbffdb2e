// Command sstlab runs real SSTs between two local Galera nodes, for
// developers of wsrep_sst_mariabackup.
//
//	go run ./internal/galeratest/sstlab demo  --sst-program bin/wsrep_sst_mariabackup [--rows N] [--keep] [-v]
//	go run ./internal/galeratest/sstlab bench --sst-program bin/wsrep_sst_mariabackup [--rows N] [--keep] [-v]
//	sstlab link --sst-program bin/wsrep_sst_mariabackup [--rows N] [--rounds N] [--zstd-level N] [--rate RATE] [--cases LIST]
//	sstlab scale --sst-program bin/wsrep_sst_mariabackup [--rows N] [--joiner-fs FS] [--joiner-size SIZE] [--read-bps N] ...
//
// demo bootstraps node1, loads about N KB of data, lets node2 join by SST
// with the given program on both nodes, prints phase timings and compares
// per-table checksums. bench does the same SST twice on one dataset, first
// with the stock script and then with the given program, and prints both
// times and their ratio. --sst-program stock selects the stock script.
// link is the slow-link benchmark of scripts/bench-link.sh (see link.go),
// meant to run inside a network namespace with a rate-limited loopback.
// scale is the benchmark of scripts/bench-scale.sh (see scale.go): a full
// SST and a rejoin with the joiner's datadir on a volume of its own.
//
// Both need root, mariadb-server, mariadb-backup and galera-4 (see
// galeratest.Available). The work directory is removed at the end unless
// --keep is given or something failed; its path is printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
)

const schema = "sbtest"

// errMismatch reports that the nodes' data differ after a transfer.
var errMismatch = errors.New("checksums differ")

// options are the command-line settings shared by all subcommands.
type options struct {
	program string // file installed as the SST program, or "stock"
	rows    int    // rows per InnoDB table, about 1 KB each
	keep    bool   // keep the work directory
	verbose bool   // print galeratest's progress log

	// link only
	rounds    int    // rounds of every case, for medians
	zstdLevel int    // level of the zstd compressor cases
	rate      string // the link's rate, for the report only
	cases     string // comma-separated subset of full,rejoin,resume

	scale scaleOptions // scale only
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.program, "sst-program", "", "SST program to test (installed as wsrep_sst_<method>); \"stock\" for the stock script")
	fs.IntVar(&o.rows, "rows", 100000, fmt.Sprintf("rows per table to load (about %d bytes each)", galeratest.RowBytes))
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory with datadirs and logs")
	fs.BoolVar(&o.verbose, "v", false, "log cluster progress to stderr")
}

func (o *options) addLinkFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.rounds, "rounds", 1, "rounds of every case; the table shows medians")
	fs.IntVar(&o.zstdLevel, "zstd-level", 1, "level of the zstd cases (compressor='zstd -N')")
	fs.StringVar(&o.rate, "rate", "", "rate the loopback is limited to, printed in the report")
	fs.StringVar(&o.cases, "cases", "full,rejoin,resume", "cases to run, comma-separated")
}

func (o *options) addScaleFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.rounds, "rounds", 1, "rounds of every case; the table shows medians")
	fs.StringVar(&o.scale.fs, "joiner-fs", "xfs", "filesystem of the joiner's datadir volume: ext4, xfs (reflink) or btrfs")
	fs.StringVar(&o.scale.size, "joiner-size", "3x", "size of that volume: bytes with K, M or G, or a factor of the donor's datadir such as 1.6x")
	fs.Int64Var(&o.scale.readBps, "read-bps", 0, "throttle reads from the volume to this many bytes a second (cgroup v1 blkio); 0: no limit")
	fs.StringVar(&o.scale.blkio, "blkio", "/sys/fs/cgroup/blkio", "where the cgroup v1 blkio hierarchy is mounted (for --read-bps)")
	fs.IntVar(&o.scale.idle, "idle-timeout", 0, "sst-idle-timeout for our program, seconds; 0: its default")
	fs.StringVar(&o.scale.layout, "layout", "", "the layout's name in the report")
	fs.StringVar(&o.scale.targets, "targets", "", "targets to judge: xfs, full-disk or slow-disk")
	fs.BoolVar(&o.scale.cacheOff, "drop-caches", false, "empty the page cache before each measured join (for --read-bps: reads from the cache are not throttled)")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sstlab demo|bench --sst-program FILE|stock [--rows N] [--keep] [-v]")
	fmt.Fprintln(w, "       sstlab link --sst-program FILE [--rows N] [--rounds N] [--zstd-level N] [--rate RATE] [--cases LIST] [--keep] [-v]")
	fmt.Fprintln(w, "       sstlab scale --sst-program FILE [--rows N] [--rounds N] [--joiner-fs FS] [--joiner-size SIZE] [--read-bps N] [--idle-timeout S] [--layout NAME] [--targets xfs|full-disk|slow-disk] [--keep] [-v]")
}

// run executes one subcommand and returns the process exit code: 0 on
// success, 1 on failure or checksum mismatch, 2 on bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var opts options
	fs := flag.NewFlagSet("sstlab "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts.addFlags(fs)
	var cmd func(context.Context, *lab) error
	switch args[0] {
	case "demo":
		cmd = demo
	case "bench":
		cmd = bench
	case "link":
		cmd = link
		opts.addLinkFlags(fs)
	case "scale":
		cmd = scale
		opts.addScaleFlags(fs)
	default:
		usage(stderr)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if opts.program == "" || opts.rows < 0 || fs.NArg() > 0 ||
		args[0] == "link" && (opts.program == "stock" || opts.rounds < 1 || opts.zstdLevel < 1 || opts.zstdLevel > 19) ||
		args[0] == "scale" && (opts.program == "stock" || opts.rounds < 1 || opts.scale.readBps < 0 || opts.scale.idle < 0) {
		usage(stderr)
		return 2
	}
	if err := galeratest.Available(); err != nil {
		fmt.Fprintln(stderr, "sstlab:", err)
		return 1
	}
	if opts.program != "stock" {
		if _, err := os.Stat(opts.program); err != nil {
			fmt.Fprintln(stderr, "sstlab:", err)
			return 1
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "sstlab-")
	if err != nil {
		fmt.Fprintln(stderr, "sstlab:", err)
		return 1
	}
	l := &lab{opts: opts, dir: dir, out: stdout}
	logf := func(string, ...any) {}
	if opts.verbose {
		logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
		}
	}
	// One method name for both nodes: the donor runs the program the
	// joiner's mysqld asks for, found in the donor's own bin dir.
	l.c, err = galeratest.New(galeratest.Options{Dir: dir, Method: "sstlab", Log: logf})
	if err == nil {
		err = cmd(ctx, l)
	}
	if l.c != nil {
		if cerr := l.c.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	switch {
	case err == nil && !opts.keep:
		if rerr := os.RemoveAll(dir); rerr != nil {
			fmt.Fprintln(stderr, "sstlab:", rerr)
		}
	default:
		fmt.Fprintln(stdout, "work directory kept:", dir)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sstlab:", err)
		return 1
	}
	return 0
}

// lab is one run of a subcommand.
type lab struct {
	opts options
	dir  string
	out  io.Writer
	c    *galeratest.Cluster
	// joinerConfig, if set, changes the joiner's configuration once the
	// donor's datadir (size bytes) is loaded.
	joinerConfig func(cfg galeratest.NodeConfig, size int64) (galeratest.NodeConfig, error)
}

// phase prints one timing line.
func (l *lab) phase(name string, d time.Duration, extra string) {
	fmt.Fprintf(l.out, "%-34s %8.2f s%s\n", name, d.Seconds(), extra)
}

// sstConfig returns the node configuration for program ("stock" or a file).
func sstConfig(program string) galeratest.NodeConfig {
	if program == "stock" {
		return galeratest.NodeConfig{StockScript: true}
	}
	return galeratest.NodeConfig{SSTProgram: program}
}

// setup adds two nodes using program, bootstraps node1 and loads the data.
func (l *lab) setup(ctx context.Context, program string) (donor, joiner *galeratest.Node, err error) {
	cfg := sstConfig(program)
	if donor, err = l.c.AddNode(cfg); err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	if err := donor.Start(ctx, true); err != nil {
		return nil, nil, err
	}
	if err := donor.WaitSynced(ctx); err != nil {
		return nil, nil, err
	}
	l.phase("node1 bootstrap -> Synced", time.Since(t0), "")

	t0 = time.Now()
	if err := galeratest.LoadData(ctx, donor, schema, l.opts.rows); err != nil {
		return nil, nil, err
	}
	d := time.Since(t0)
	tsize, err := dirSize(filepath.Join(donor.Datadir(), schema))
	if err != nil {
		return nil, nil, err
	}
	size, err := dirSize(donor.Datadir())
	if err != nil {
		return nil, nil, err
	}
	l.phase(fmt.Sprintf("load %d rows", l.opts.rows), d, fmt.Sprintf("  (tables %.0f MiB, datadir %.0f MiB)", float64(tsize)/(1<<20), float64(size)/(1<<20)))
	// The joiner is added once the donor's datadir size is known: scale
	// sizes the joiner's volume by it.
	if l.joinerConfig != nil {
		if cfg, err = l.joinerConfig(cfg, size); err != nil {
			return nil, nil, err
		}
	}
	if joiner, err = l.c.AddNode(cfg); err != nil {
		return nil, nil, err
	}
	return donor, joiner, nil
}

// join starts joiner, waits until it is Synced and checks that it got an
// SST. It prints and returns the time from start to Synced.
func (l *lab) join(ctx context.Context, joiner *galeratest.Node, label string) (time.Duration, error) {
	t0 := time.Now()
	if err := joiner.Start(ctx, false); err != nil {
		return 0, err
	}
	if err := joiner.WaitSynced(ctx); err != nil {
		return 0, err
	}
	d := time.Since(t0)
	log, err := joiner.LogSinceStart()
	if err != nil {
		return 0, err
	}
	extra := ""
	if sd, ok := galeratest.SSTDuration(log); ok {
		extra = fmt.Sprintf("  (SST program on joiner %.2f s)", sd.Seconds())
	}
	l.phase(label+": joiner start -> Synced", d, extra)
	if got := galeratest.StateTransfer(log); got != "SST" {
		return d, fmt.Errorf("%s: joiner caught up by %q, want SST", label, got)
	}
	return d, nil
}

// compare prints per-table checksums of both nodes and returns errMismatch
// if they differ.
func (l *lab) compare(ctx context.Context, a, b *galeratest.Node) error {
	sa, err := a.Checksums(ctx, schema)
	if err != nil {
		return err
	}
	sb, err := b.Checksums(ctx, schema)
	if err != nil {
		return err
	}
	tables := make([]string, 0, len(sa))
	for t := range sa {
		tables = append(tables, t)
	}
	for t := range sb {
		if _, ok := sa[t]; !ok {
			tables = append(tables, t)
		}
	}
	sort.Strings(tables)
	fmt.Fprintf(l.out, "%-12s %-12s %-12s\n", "table", a.Name(), b.Name())
	for _, t := range tables {
		verdict := "match"
		if sa[t] != sb[t] {
			verdict = "MISMATCH"
		}
		fmt.Fprintf(l.out, "%-12s %-12s %-12s %s\n", t, sa[t], sb[t], verdict)
	}
	if d := galeratest.DiffChecksums(sa, sb); d != nil {
		return fmt.Errorf("%w in %d tables", errMismatch, len(d))
	}
	return nil
}

func demo(ctx context.Context, l *lab) error {
	donor, joiner, err := l.setup(ctx, l.opts.program)
	if err != nil {
		return err
	}
	if _, err := l.join(ctx, joiner, "SST"); err != nil {
		return err
	}
	return l.compare(ctx, donor, joiner)
}

func bench(ctx context.Context, l *lab) error {
	donor, joiner, err := l.setup(ctx, "stock")
	if err != nil {
		return err
	}
	stock, err := l.join(ctx, joiner, "stock")
	if err != nil {
		return err
	}
	if err := l.compare(ctx, donor, joiner); err != nil {
		return err
	}

	if err := joiner.Stop(ctx); err != nil {
		return err
	}
	if err := joiner.WipeDatadir(); err != nil {
		return err
	}
	program := l.opts.program
	if program == "stock" {
		program = ""
	}
	for _, n := range []*galeratest.Node{donor, joiner} {
		if err := n.InstallSST(program); err != nil {
			return err
		}
	}
	ours, err := l.join(ctx, joiner, filepath.Base(l.opts.program))
	if err != nil {
		return err
	}
	if err := l.compare(ctx, donor, joiner); err != nil {
		return err
	}
	fmt.Fprintf(l.out, "stock %.2f s, %s %.2f s: %.2fx\n", stock.Seconds(), filepath.Base(l.opts.program), ours.Seconds(), stock.Seconds()/ours.Seconds())
	return nil
}

// dirSize returns the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return total, nil
}
