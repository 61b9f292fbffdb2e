package main

// The link subcommand: the slow-link benchmark that scripts/bench-link.sh
// runs inside a network namespace whose loopback is rate-limited. It
// measures, on one dataset and in one run, full SSTs (the stock script
// plain and with lz4; ours plain, lz4, zstd, zstd with parallel streams),
// a rejoin after about a tenth of one table changed, and the second
// attempt after a donor killed half-way, for the stock script and ours.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// Case names of the link benchmark.
const (
	caseFull   = "full"
	caseRejoin = "rejoin"
	caseResume = "resume"
)

// Tools.
const (
	toolStock = "stock"
	toolOurs  = "ours"
)

// linkConf is one SST configuration: a tool and the [sst] lines both
// nodes get.
type linkConf struct {
	tool string
	name string // "plain", "lz4", ...; "default" for rejoin and resume
	sst  []string
}

func (c linkConf) label() string { return c.tool + " " + c.name }

// fullConfs returns the full-SST configurations, stock first.
func fullConfs(zstdLevel int) []linkConf {
	lz4 := []string{"compressor='lz4 -z'", "decompressor='lz4 -d'"}
	zstd := []string{fmt.Sprintf("compressor='zstd -%d'", zstdLevel), "decompressor='zstd -d'"}
	return []linkConf{
		{toolStock, "plain", nil},
		{toolStock, "lz4", lz4},
		{toolOurs, "plain", nil},
		{toolOurs, "plain, transfer-v2=0", []string{"transfer-v2=0"}},
		{toolOurs, "lz4", lz4},
		{toolOurs, "lz4, transfer-v2=0", append(slices.Clone(lz4), "transfer-v2=0")},
		{toolOurs, fmt.Sprintf("zstd -%d", zstdLevel), zstd},
		{toolOurs, fmt.Sprintf("zstd -%d, 4 streams", zstdLevel), append(slices.Clone(zstd), "parallel-streams=4")},
	}
}

// rotate returns s rotated left by r, so that each round starts with
// another configuration and none always runs on a cold or warm cache.
func rotate[T any](s []T, r int) []T {
	if len(s) == 0 {
		return s
	}
	r %= len(s)
	return append(slices.Clone(s[r:]), s[:r]...)
}

// measure is what one join cost.
type measure struct {
	secs    float64 // joiner start -> Synced
	sstSecs float64 // the joiner's SST program, first to last log line; 0 if unknown
	wire    int64   // bytes sent on the namespace's loopback
	// Peak RSS (VmHWM) of the SST program per side, bytes; 0 if not seen.
	rssDonor, rssJoiner int64
	// scale only: peak used bytes of the joiner's volume over those at the
	// start, the joiner's datadir size after the join, and the seconds
	// the donor's mariadb-backup started after its data stage (-1: unknown).
	extraDisk, datadir int64
	backupWait         float64
}

// result collects the measures of one case and configuration over the
// rounds.
type result struct {
	kase  string
	conf  linkConf
	ms    []measure
	notes []string
}

// median returns the median of f over the measures (the lower middle one
// for an even count, so that it is a value that was measured).
func (r *result) median(f func(measure) float64) float64 {
	v := make([]float64, len(r.ms))
	for i, m := range r.ms {
		v[i] = f(m)
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	return v[(len(v)-1)/2]
}

func (r *result) secs() float64 { return r.median(func(m measure) float64 { return m.secs }) }
func (r *result) wire() float64 { return r.median(func(m measure) float64 { return float64(m.wire) }) }

// linkLab is one run of the link subcommand.
type linkLab struct {
	*lab
	donor, joiner *galeratest.Node
	results       []*result
	salt          int // makes every 10% change write new values
	// scale only: the filesystem whose used bytes each join samples, and
	// whether to empty the page cache before each join.
	disk       string
	dropCaches bool
}

func (k *linkLab) record(kase string, c linkConf, m measure, note string) {
	for _, r := range k.results {
		if r.kase == kase && r.conf.label() == c.label() {
			r.ms = append(r.ms, m)
			if note != "" {
				r.notes = append(r.notes, note)
			}
			return
		}
	}
	r := &result{kase: kase, conf: c, ms: []measure{m}}
	if note != "" {
		r.notes = append(r.notes, note)
	}
	k.results = append(k.results, r)
}

func (k *linkLab) find(kase, label string) *result {
	for _, r := range k.results {
		if r.kase == kase && r.conf.label() == label {
			return r
		}
	}
	return nil
}

func link(ctx context.Context, l *lab) error {
	if !inNetns() {
		fmt.Fprintln(l.out, "warning: not in a network namespace of its own: the wire bytes count all loopback traffic of this host (run scripts/bench-link.sh)")
	}
	if rate := l.opts.rate; rate != "" {
		fmt.Fprintf(l.out, "link: loopback rate-limited to %s (tbf)\n", rate)
	}
	donor, joiner, err := l.setup(ctx, l.opts.program)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, c := range strings.Split(l.opts.cases, ",") {
		switch c = strings.TrimSpace(c); c {
		case caseFull, caseRejoin, caseResume:
			want[c] = true
		default:
			return fmt.Errorf("--cases: unknown case %q (full, rejoin, resume)", c)
		}
	}
	k := &linkLab{lab: l, donor: donor, joiner: joiner}
	confs := fullConfs(l.opts.zstdLevel)
	others := []linkConf{{toolOurs, "default", nil}, {toolStock, "default", nil}}
	if err := k.warmUp(ctx, others[0]); err != nil {
		return err
	}
	for r := range l.opts.rounds {
		fmt.Fprintf(l.out, "round %d of %d\n", r+1, l.opts.rounds)
		// The rejoins first: their changes grow the donor's ibdata1
		// (undo log, in 64 MiB steps), so the full SSTs and the resumes
		// after them copy the same data, and the rejoins are compared
		// with full SSTs of the data they ended with.
		for _, run := range []struct {
			kase  string
			confs []linkConf
		}{{caseRejoin, others}, {caseFull, confs}, {caseResume, others}} {
			if !want[run.kase] {
				continue
			}
			for _, c := range rotate(run.confs, r) {
				if err := k.runCase(ctx, run.kase, c); err != nil {
					return err
				}
			}
		}
	}
	k.report()
	return nil
}

// warmUp runs a full SST with c that is not measured: the first backup
// after the load also copies the load's redo log, and the donor's files
// are read from disk once; neither should fall on whichever
// configuration comes first.
func (k *linkLab) warmUp(ctx context.Context, c linkConf) error {
	fmt.Fprintln(k.out, "warm-up (not measured):")
	if _, err := k.full(ctx, c); err != nil {
		return fmt.Errorf("warm-up full SST: %w", err)
	}
	return nil
}

// runCase runs case kase (caseFull, caseRejoin or caseResume) with c
// and records it.
func (k *linkLab) runCase(ctx context.Context, kase string, c linkConf) error {
	var m measure
	var note string
	var err error
	what := kase
	switch kase {
	case caseFull:
		what = "full SST"
		m, err = k.full(ctx, c)
	case caseRejoin:
		m, note, err = k.rejoin(ctx, c)
	case caseResume:
		m, note, err = k.resume(ctx, c)
	default:
		return fmt.Errorf("unknown case %q", kase)
	}
	if err != nil {
		return fmt.Errorf("%s, %s: %w", what, c.label(), err)
	}
	k.record(kase, c, m, note)
	return nil
}

// configure installs c's program on both nodes and gives both its [sst]
// lines, plus extra for the joiner. The donor's SST program reads the
// option file at its next transfer; the joiner must be stopped.
func (k *linkLab) configure(c linkConf, joinerExtra ...string) error {
	program := k.opts.program
	if c.tool == toolStock {
		program = ""
	}
	for _, n := range []*galeratest.Node{k.donor, k.joiner} {
		if err := n.InstallSST(program); err != nil {
			return err
		}
	}
	if err := k.donor.Reconfigure(func(nc *galeratest.NodeConfig) { nc.SST = slices.Clone(c.sst) }); err != nil {
		return err
	}
	return k.joiner.Reconfigure(func(nc *galeratest.NodeConfig) {
		nc.SST = append(slices.Clone(c.sst), joinerExtra...)
	})
}

// full SSTs the dataset into the joiner's empty datadir with c.
func (k *linkLab) full(ctx context.Context, c linkConf) (measure, error) {
	if err := k.joiner.Stop(ctx); err != nil {
		return measure{}, err
	}
	if err := k.joiner.WipeDatadir(); err != nil {
		return measure{}, err
	}
	if err := k.configure(c); err != nil {
		return measure{}, err
	}
	m, n, err := k.joinSame(ctx)
	if err != nil {
		return m, err
	}
	k.line(caseFull, c, m, fmt.Sprintf("checksums equal (%d tables)", n))
	return m, nil
}

// rejoin stops the synced joiner, changes about a tenth of t1 on the
// donor and lets the joiner, datadir kept, get a full SST with c.
func (k *linkLab) rejoin(ctx context.Context, c linkConf) (measure, string, error) {
	if !k.joiner.Running() {
		return measure{}, "", errors.New("the joiner is not running (synced) before the rejoin")
	}
	if err := k.joiner.Stop(ctx); err != nil {
		return measure{}, "", err
	}
	if err := k.configure(c); err != nil {
		return measure{}, "", err
	}
	k.salt++
	rows, err := changeTenth(ctx, k.donor, k.opts.rows, k.salt)
	if err != nil {
		return measure{}, "", err
	}
	if err := forceSST(k.joiner.Datadir()); err != nil {
		return measure{}, "", err
	}
	before, err := blockSums(k.joiner.Datadir())
	if err != nil {
		return measure{}, "", err
	}
	m, n, err := k.joinSame(ctx)
	if err != nil {
		return m, "", err
	}
	after, err := blockSums(k.joiner.Datadir())
	if err != nil {
		return m, "", err
	}
	d := diffBlocks(before, after)
	note := fmt.Sprintf("%d rows of t1 changed; %s", rows, d)
	k.line(caseRejoin, c, m, fmt.Sprintf("checksums equal (%d tables); %s", n, note))
	return m, note, nil
}

// resume starts a full SST into the joiner's empty datadir with c,
// SIGKILLs the donor's SST processes when about half the data has
// arrived, lets the joiner fail, and measures the next attempt.
func (k *linkLab) resume(ctx context.Context, c linkConf) (measure, string, error) {
	if err := k.joiner.Stop(ctx); err != nil {
		return measure{}, "", err
	}
	if err := k.joiner.WipeDatadir(); err != nil {
		return measure{}, "", err
	}
	statusFile := filepath.Join(k.joiner.Dir(), "sst-status.json")
	_ = os.Remove(statusFile)
	var extra []string
	if c.tool == toolOurs {
		extra = []string{"status-file=" + statusFile}
	}
	if err := k.configure(c, extra...); err != nil {
		return measure{}, "", err
	}
	total, err := sstFootprint(k.donor.Datadir())
	if err != nil {
		return measure{}, "", err
	}
	tx0, err := loTxBytes()
	if err != nil {
		return measure{}, "", err
	}
	if err := k.joiner.Start(ctx, false); err != nil {
		return measure{}, "", err
	}
	// Both tools stage the stream in the joiner's .sst directory; ours
	// also reports bytes done in its status file, which is rewritten
	// about once a second only.
	staging := filepath.Join(k.joiner.Datadir(), ".sst")
	progress := func() (float64, error) {
		f := 0.0
		if done, err := dirSize(staging); err == nil {
			f = float64(done) / float64(total)
		}
		if c.tool == toolOurs {
			s, err := statusProgress(statusFile, total)
			if err != nil {
				return 0, err
			}
			f = max(f, s)
		}
		return f, nil
	}
	frac, err := k.waitHalf(ctx, progress)
	if err != nil {
		_ = k.joiner.Kill()
		return measure{}, "", err
	}
	killed, err := k.killDonorSST(ctx)
	if err != nil {
		_ = k.joiner.Kill()
		return measure{}, "", err
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	err = k.joiner.WaitExit(wctx)
	cancel()
	if err != nil {
		fmt.Fprintf(k.out, "  the joiner did not give up within 3 minutes; killed (%v)\n", err)
		_ = k.joiner.Kill()
	}
	if err := k.donorIdle(ctx); err != nil {
		return measure{}, "", err
	}
	tx1, err := loTxBytes()
	if err != nil {
		return measure{}, "", err
	}
	first := tx1 - tx0
	m, n, err := k.joinSame(ctx)
	if err != nil {
		return m, "", err
	}
	note := fmt.Sprintf("first attempt killed at %.0f%% (%d donor processes), %.1f MB on the wire before", frac*100, killed, mb(first))
	k.line(caseResume, c, m, fmt.Sprintf("checksums equal (%d tables); %s", n, note))
	return m, note, nil
}

// waitHalf polls progress until it reports at least half, and returns the
// fraction seen then. It fails if the joiner's SST program ends first.
func (k *linkLab) waitHalf(ctx context.Context, progress func() (float64, error)) (float64, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	seen := false
	for {
		f, err := progress()
		if err != nil {
			return 0, err
		}
		if f >= 0.5 {
			return f, nil
		}
		pids, err := sstPids("joiner", k.joiner.Datadir())
		if err != nil {
			return 0, err
		}
		switch {
		case len(pids) > 0:
			seen = true
		case seen:
			return 0, fmt.Errorf("the joiner's SST program ended at %.0f%% of the data, before the kill: use a larger SIZE or a slower RATE", f*100)
		}
		if !k.joiner.Running() {
			return 0, fmt.Errorf("the joiner exited at %.0f%% of the data, before the kill", f*100)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

// killDonorSST SIGKILLs every process of the donor's group but mariadbd:
// the SST program and its children (for the stock script, mariadb-backup
// and socat). It returns how many it signalled.
func (k *linkLab) killDonorSST(ctx context.Context) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids, err := sstPids("donor", k.donor.Datadir())
		if err != nil {
			return 0, err
		}
		if len(pids) > 0 {
			group, err := k.donor.GroupProcesses()
			if err != nil {
				return 0, err
			}
			for _, p := range group {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			// Ours may start children in groups of their own.
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			return len(group), nil
		}
		if time.Now().After(deadline) {
			return 0, errors.New("no donor SST program found to kill")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// donorIdle waits until the donor runs no SST process any more. It does
// not wait for Synced: after a failed SST with the joiner gone at the same
// moment, Galera may ignore the donor's JOIN message ("JOIN message from
// member 0 in non-primary configuration. Ignored.") and leave it
// Donor/Desynced, which does not keep it from donating again.
func (k *linkLab) donorIdle(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		left, err := k.donor.GroupProcesses()
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("donor processes %v still running 2 minutes after the kill", left)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// joinSame starts the joiner (join) and, once it is in, compares its
// tables with the donor's (same): the measure and the tables compared.
func (k *linkLab) joinSame(ctx context.Context) (measure, int, error) {
	m, err := k.join(ctx)
	if err != nil {
		return m, 0, err
	}
	n, err := k.same(ctx)
	return m, n, err
}

// join starts the joiner and measures it until Synced; it must have got
// an SST.
func (k *linkLab) join(ctx context.Context) (measure, error) {
	var m measure
	if k.dropCaches {
		if err := dropPageCache(); err != nil {
			return m, err
		}
	}
	var disk *galeratest.DiskSampler
	if k.disk != "" {
		var err error
		if disk, err = galeratest.SampleDisk(k.disk, 100*time.Millisecond); err != nil {
			return m, err
		}
	}
	tx0, err := loTxBytes()
	if err != nil {
		return m, err
	}
	rss := startRSS(k.donor.Datadir(), k.joiner.Datadir())
	t0 := time.Now()
	err = k.joiner.Start(ctx, false)
	if err == nil {
		err = k.joiner.WaitSynced(ctx)
	}
	m.secs = time.Since(t0).Seconds()
	m.rssDonor, m.rssJoiner = rss.stop()
	if disk != nil {
		m.extraDisk = disk.Stop()
	}
	if err != nil {
		return m, err
	}
	if k.disk != "" {
		if m.datadir, err = sstFootprint(k.joiner.Datadir()); err != nil {
			return m, err
		}
		dlog, err := k.donor.ErrorLog()
		if err != nil {
			return m, err
		}
		m.backupWait = backupWait(dlog)
	}
	tx1, err := loTxBytes()
	if err != nil {
		return m, err
	}
	m.wire = tx1 - tx0
	log, err := k.joiner.LogSinceStart()
	if err != nil {
		return m, err
	}
	if d, ok := galeratest.SSTDuration(log); ok {
		m.sstSecs = d.Seconds()
	}
	if got := galeratest.StateTransfer(log); got != "SST" {
		return m, fmt.Errorf("joiner caught up by %q, want SST", got)
	}
	return m, nil
}

// same returns the number of sbtest tables, or errMismatch naming those
// that differ between donor and joiner.
func (k *linkLab) same(ctx context.Context) (int, error) {
	a, err := k.donor.Checksums(ctx, schema)
	if err != nil {
		return 0, err
	}
	b, err := k.joiner.Checksums(ctx, schema)
	if err != nil {
		return 0, err
	}
	if len(a) == 0 {
		return 0, fmt.Errorf("no tables checksummed on %s", k.donor.Name())
	}
	if d := galeratest.DiffChecksums(a, b); d != nil {
		return 0, fmt.Errorf("%w: %s", errMismatch, strings.Join(d, "; "))
	}
	return len(a), nil
}

// line prints one measured case as it happens.
func (k *linkLab) line(kase string, c linkConf, m measure, extra string) {
	fmt.Fprintf(k.out, "  %-7s %-24s %7.2f s (SST program %6.2f s) %9.1f MB  rss donor %s joiner %s  %s\n",
		kase, c.label(), m.secs, m.sstSecs, mb(m.wire), mib(m.rssDonor), mib(m.rssJoiner), extra)
}

func mb(b int64) float64 { return float64(b) / 1e6 }

func mib(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fMiB", float64(b)/(1<<20))
}

// report prints the table of medians and one verdict per target of the
// issue.
func (k *linkLab) report() {
	var stockBest, oursBest *result
	for _, r := range k.results {
		if r.kase != caseFull {
			continue
		}
		best := &oursBest
		if r.conf.tool == toolStock {
			best = &stockBest
		}
		if *best == nil || r.secs() < (*best).secs() {
			*best = r
		}
	}
	fmt.Fprintf(k.out, "\nmedians of %d round(s); seconds: joiner start -> Synced; wire: bytes on the namespace's loopback; rss: peak of the SST program\n", k.opts.rounds)
	fmt.Fprintf(k.out, "%-7s %-24s %8s %8s %9s %8s %9s %10s %10s\n", "case", "tool", "seconds", "SST s", "wire MB", "x stock", "wire/full", "rss donor", "rss joiner")
	for _, r := range k.results {
		ratio := "-"
		if stockBest != nil && stockBest.secs() > 0 {
			ratio = fmt.Sprintf("%.2f", r.secs()/stockBest.secs())
		}
		share := "-"
		if f := k.plainFull(r.conf.tool); f != nil && f.wire() > 0 {
			share = fmt.Sprintf("%.0f%%", 100*r.wire()/f.wire())
		}
		fmt.Fprintf(k.out, "%-7s %-24s %8.2f %8.2f %9.1f %8s %9s %10s %10s\n", r.kase, r.conf.label(), r.secs(),
			r.median(func(m measure) float64 { return m.sstSecs }), r.wire()/1e6, ratio, share,
			mib(int64(r.median(func(m measure) float64 { return float64(m.rssDonor) }))),
			mib(int64(r.median(func(m measure) float64 { return float64(m.rssJoiner) }))))
	}
	fmt.Fprintln(k.out, "(x stock: seconds / the stock script's best full SST; wire/full: wire bytes / the same tool's plain full SST)")
	for _, r := range k.results {
		for _, n := range r.notes {
			fmt.Fprintf(k.out, "%s %s: %s\n", r.kase, r.conf.label(), n)
		}
	}
	fmt.Fprintln(k.out)
	for _, l := range k.verdicts(stockBest, oursBest) {
		fmt.Fprintln(k.out, l)
	}
}

// plainFull returns the full SST of tool with default settings.
func (k *linkLab) plainFull(tool string) *result { return k.find(caseFull, tool+" plain") }

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// verdicts returns one line per target of issue 11.
func (k *linkLab) verdicts(stockBest, oursBest *result) []string {
	var out []string
	if stockBest != nil && oursBest != nil {
		x := oursBest.secs() / stockBest.secs()
		out = append(out, fmt.Sprintf("target full SST <= 0.35x stock best: %s: %s %.2f s / %s %.2f s = %.2fx",
			verdict(x <= 0.35), oursBest.conf.label(), oursBest.secs(), stockBest.conf.label(), stockBest.secs(), x))
	}
	full := k.plainFull(toolOurs)
	if rj := k.find(caseRejoin, toolOurs+" default"); rj != nil && full != nil {
		b, t := rj.wire()/full.wire(), rj.secs()/full.secs()
		out = append(out, fmt.Sprintf("target rejoin <= 20%% of a full SST's bytes and <= 0.3x its time: %s: %.1f MB / %.1f MB = %.0f%%, %.2f s / %.2f s = %.2fx (vs ours plain full)",
			verdict(b <= 0.20 && t <= 0.3), rj.wire()/1e6, full.wire()/1e6, 100*b, rj.secs(), full.secs(), t))
	}
	if rs := k.find(caseResume, toolOurs+" default"); rs != nil && full != nil {
		b := rs.wire() / full.wire()
		out = append(out, fmt.Sprintf("target resumed attempt <= 60%% of a full SST's bytes: %s: %.1f MB / %.1f MB = %.0f%% (vs ours plain full)",
			verdict(b <= 0.60), rs.wire()/1e6, full.wire()/1e6, 100*b))
	}
	for _, r := range k.results {
		if r.kase != caseFull || r.conf.tool != toolOurs || !slices.Contains(r.conf.sst, "parallel-streams=4") {
			continue
		}
		d := r.median(func(m measure) float64 { return float64(m.rssDonor) })
		j := r.median(func(m measure) float64 { return float64(m.rssJoiner) })
		lim := float64(64 << 20)
		out = append(out, fmt.Sprintf("target RSS <= 64 MiB per side (%s): %s: donor %s, joiner %s",
			r.conf.label(), verdict(d > 0 && j > 0 && d <= lim && j <= lim), mib(int64(d)), mib(int64(j))))
	}
	return out
}

// changeTenth updates column c of about a tenth of the rows of t1 on n,
// in runs of 500 consecutive ids ((id DIV 500) % 10 = 0), so that about a
// tenth of the table's leaf pages change, spread over the whole table. c
// is CHAR(120) and keeps its length, so rows are updated in place and no
// page splits. It returns the number of rows changed.
func changeTenth(ctx context.Context, n *galeratest.Node, rows, salt int) (int, error) {
	changed := 0
	const batch = 20000
	for lo := 1; lo <= rows; lo += batch {
		hi := min(lo+batch-1, rows)
		q := fmt.Sprintf(`UPDATE %[1]s.t1 SET c = CONCAT_WS('-', MD5(id + %[4]d), MD5(id + %[4]d + 1), MD5(id + %[4]d + 2))
WHERE id BETWEEN %[2]d AND %[3]d AND (id DIV 500) %% 10 = 0; SELECT ROW_COUNT();`, schema, lo, hi, salt*10000019)
		out, err := n.Exec(ctx, q)
		if err != nil {
			return changed, fmt.Errorf("change a tenth of t1: %w", err)
		}
		c, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			return changed, fmt.Errorf("change a tenth of t1: row count %q: %w", out, err)
		}
		changed += c
	}
	return changed, nil
}

// forceSST makes the next start of the stopped node with datadir ask for a
// full SST while its datadir stays: seqno -1 in grastate.dat, as after a
// crash.
func forceSST(datadir string) error {
	p := filepath.Join(datadir, "grastate.dat")
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("force SST: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(l, "seqno:") {
			lines[i] = "seqno:   -1"
			found = true
		}
	}
	if !found {
		return fmt.Errorf("force SST: no seqno line in %s", p)
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		return fmt.Errorf("force SST: %w", err)
	}
	return nil
}

// statusProgress reads the joiner's [sst] status-file and returns bytes
// done over bytes total (total when the document has none); 0 until the
// file exists.
func statusProgress(path string, total int64) (float64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var doc struct {
		BytesDone  int64  `json:"bytes_done"`
		BytesTotal *int64 `json:"bytes_total"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		// Written by rename, so never partial; a schema change is a bug.
		return 0, fmt.Errorf("status file %s: %w", path, err)
	}
	if doc.BytesTotal != nil && *doc.BytesTotal > 0 {
		total = *doc.BytesTotal
	}
	return float64(doc.BytesDone) / float64(total), nil
}

// sstFootprint estimates what an SST of datadir streams: every file but
// the Galera cache, the redo log (mariadb-backup copies only its tail)
// and logs.
func sstFootprint(datadir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(datadir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(datadir, p)
		if d.IsDir() {
			if rel != "." && volatileFile(rel) {
				return filepath.SkipDir // staging of an SST
			}
			return nil
		}
		if volatileFile(rel) || strings.HasPrefix(filepath.Base(rel), "ib_logfile") {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", datadir, err)
	}
	if total == 0 {
		return 0, fmt.Errorf("size of %s: no data", datadir)
	}
	return total, nil
}
