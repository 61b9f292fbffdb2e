package main

// The scale subcommand: what a rejoin costs when the joiner's datadir is a
// filesystem of its own, as on a production node, in three layouts that
// scripts/bench-scale.sh runs one after the other: XFS with reflink; ext4
// sized 1.6x the datadir, so old and new data do not fit side by side; and
// ext4 whose reads are throttled (blkio), so that reading the old data
// takes longer than the donor waits for it, as on a TB node. For the
// stock script and ours, in one run: a full SST into the empty volume, then
// a rejoin after a tenth of one table changed, with seconds, bytes on the
// wire, peak extra disk on the joiner's volume and RSS per side.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"wsrep_sst_mariabackup/internal/galeratest"
)

// scaleOptions are the scale subcommand's settings.
type scaleOptions struct {
	fs       string // the joiner's volume: ext4, xfs or btrfs
	size     string // its size: bytes with a K/M/G suffix, or "1.6x" of the donor's datadir
	readBps  int64  // blkio read limit on the volume's device, bytes/s; 0: none
	blkio    string // where the cgroup v1 blkio hierarchy is mounted
	idle     int    // sst-idle-timeout for ours, seconds; 0: the default
	layout   string // the layout's name in the report
	targets  string // which targets apply: xfs, full-disk, slow-disk or ""
	cacheOff bool   // drop the page cache before each measured join
}

// volumeSize returns the joiner's volume size for opts.size, datadir being
// the donor's datadir size after the load.
func volumeSize(spec string, datadir int64) (int64, error) {
	spec = strings.TrimSpace(spec)
	if f, ok := strings.CutSuffix(spec, "x"); ok {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil || x <= 0 {
			return 0, fmt.Errorf("--joiner-size %q: want a factor such as 1.6x", spec)
		}
		return int64(x * float64(datadir)), nil
	}
	mult := int64(1)
	switch {
	case strings.HasSuffix(spec, "G"):
		mult, spec = 1<<30, strings.TrimSuffix(spec, "G")
	case strings.HasSuffix(spec, "M"):
		mult, spec = 1<<20, strings.TrimSuffix(spec, "M")
	case strings.HasSuffix(spec, "K"):
		mult, spec = 1<<10, strings.TrimSuffix(spec, "K")
	}
	n, err := strconv.ParseInt(spec, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--joiner-size %q: want bytes (with K, M or G) or a factor such as 1.6x", spec)
	}
	return n * mult, nil
}

func scale(ctx context.Context, l *lab) error {
	o := l.opts.scale
	if !inNetns() {
		fmt.Fprintln(l.out, "warning: not in a network namespace of its own: the wire bytes count all loopback traffic of this host (run scripts/bench-scale.sh)")
	}
	var vsize int64
	l.joinerConfig = func(cfg galeratest.NodeConfig, donorDatadir int64) (galeratest.NodeConfig, error) {
		size, err := volumeSize(o.size, donorDatadir)
		if err != nil {
			return cfg, err
		}
		vsize = size
		cfg.Volume = galeratest.Volume{FS: o.fs, Size: size}
		return cfg, nil
	}
	donor, joiner, err := l.setup(ctx, l.opts.program)
	if err != nil {
		return err
	}
	fmt.Fprintf(l.out, "layout %s: the joiner's datadir is a %s volume of %.0f MiB on %s\n", o.layout, o.fs, float64(vsize)/(1<<20), joiner.VolumeDevice())
	if o.readBps > 0 {
		undo, err := throttleReads(o.blkio, joiner.VolumeDevice(), o.readBps)
		if err != nil {
			return err
		}
		defer undo()
		fmt.Fprintf(l.out, "reads from %s throttled to %.0f MB/s (blkio)\n", joiner.VolumeDevice(), float64(o.readBps)/1e6)
	}
	k := &linkLab{lab: l, donor: donor, joiner: joiner, disk: joiner.Datadir(), dropCaches: o.cacheOff}
	var ours []string
	if o.idle > 0 {
		ours = append(ours, fmt.Sprintf("sst-idle-timeout=%d", o.idle))
	}
	confs := []linkConf{{toolOurs, "plain", ours}, {toolStock, "plain", nil}}
	if err := k.warmUp(ctx, confs[0]); err != nil {
		return err
	}
	for r := range l.opts.rounds {
		fmt.Fprintf(l.out, "round %d of %d\n", r+1, l.opts.rounds)
		for _, c := range rotate(confs, r) {
			if err := k.runCase(ctx, caseFull, c); err != nil {
				return err
			}
			if err := k.runCase(ctx, caseRejoin, c); err != nil {
				return err
			}
		}
	}
	k.scaleReport(o, vsize)
	return nil
}

// scaleReport prints the medians and one verdict per target of issue 19
// that applies to the layout.
func (k *linkLab) scaleReport(o scaleOptions, vsize int64) {
	fmt.Fprintf(k.out, "\nlayout %s (%s, %.0f MiB): medians of %d round(s); seconds: joiner start -> Synced; wire: bytes on the namespace's loopback; extra disk: peak of the volume's used bytes over those at the start\n",
		o.layout, o.fs, float64(vsize)/(1<<20), k.opts.rounds)
	fmt.Fprintf(k.out, "%-7s %-12s %8s %8s %9s %9s %11s %10s %10s\n", "case", "tool", "seconds", "SST s", "wire MB", "wire/full", "extra disk", "rss donor", "rss joiner")
	for _, r := range k.results {
		share := "-"
		if f := k.find(caseFull, r.conf.label()); f != nil && f.wire() > 0 {
			share = fmt.Sprintf("%.1f%%", 100*r.wire()/f.wire())
		}
		fmt.Fprintf(k.out, "%-7s %-12s %8.2f %8.2f %9.1f %9s %9.0f MB %10s %10s\n", r.kase, r.conf.label(), r.secs(),
			r.median(func(m measure) float64 { return m.sstSecs }), r.wire()/1e6, share,
			r.median(func(m measure) float64 { return float64(m.extraDisk) })/1e6,
			mib(int64(r.median(func(m measure) float64 { return float64(m.rssDonor) }))),
			mib(int64(r.median(func(m measure) float64 { return float64(m.rssJoiner) }))))
	}
	for _, r := range k.results {
		for _, n := range r.notes {
			fmt.Fprintf(k.out, "%s %s: %s\n", r.kase, r.conf.label(), n)
		}
	}
	full, rj := k.find(caseFull, toolOurs+" plain"), k.find(caseRejoin, toolOurs+" plain")
	if full == nil || rj == nil || full.wire() <= 0 || full.secs() <= 0 {
		return
	}
	t, b := rj.secs()/full.secs(), rj.wire()/full.wire()
	extra := rj.median(func(m measure) float64 { return float64(m.extraDisk) })
	size := full.median(func(m measure) float64 { return float64(m.datadir) })
	fmt.Fprintln(k.out)
	switch o.targets {
	case "xfs":
		fmt.Fprintf(k.out, "target (a) rejoin <= 0.25x our full SST's time: %s: %.2f s / %.2f s = %.2fx\n", verdict(t <= 0.25), rj.secs(), full.secs(), t)
		fmt.Fprintf(k.out, "target (a) peak extra disk <= 25%% of the datadir: %s: %.0f MB / %.0f MB = %.0f%%\n", verdict(extra <= 0.25*size), extra/1e6, size/1e6, 100*extra/size)
		fmt.Fprintf(k.out, "target (a) rejoin bytes <= 10%% of a full SST's: %s: %.1f%%\n", verdict(b <= 0.10), 100*b)
	case "full-disk":
		fmt.Fprintf(k.out, "target (b) rejoin bytes <= 10%% of a full SST's: %s: %.1f%%\n", verdict(b <= 0.10), 100*b)
		fmt.Fprintf(k.out, "target (b) rejoin <= 0.5x the full SST's time: %s: %.2f s / %.2f s = %.2fx\n", verdict(t <= 0.5), rj.secs(), full.secs(), t)
	case "slow-disk":
		fmt.Fprintf(k.out, "target (c) rejoin bytes <= 10%% of a full SST's: %s: %.1f%%\n", verdict(b <= 0.10), 100*b)
		if w := rj.median(func(m measure) float64 { return m.backupWait }); w >= 0 {
			fmt.Fprintf(k.out, "target (c) donor's mariadb-backup starts <= 5 s after the donor connects: %s: %.1f s\n", verdict(w <= 5), w)
		}
	}
	d := rj.median(func(m measure) float64 { return float64(m.rssDonor) })
	j := rj.median(func(m measure) float64 { return float64(m.rssJoiner) })
	lim := float64(64 << 20)
	fmt.Fprintf(k.out, "target RSS <= 64 MiB per side (rejoin): %s: donor %s, joiner %s\n", verdict(d > 0 && j > 0 && d <= lim && j <= lim), mib(int64(d)), mib(int64(j)))
}

// throttleReads limits reads from the block device dev to bps bytes a
// second for every process (cgroup v1 blkio, mounted at blkio, in the
// root group), and returns what lifts the limit again. Inside "ip netns
// exec" /sys is the namespace's own and has no cgroup mounts: the caller
// passes where the host's blkio hierarchy is visible.
func throttleReads(blkio, dev string, bps int64) (func(), error) {
	file := filepath.Join(blkio, "blkio.throttle.read_bps_device")
	var st syscall.Stat_t
	if err := syscall.Stat(dev, &st); err != nil {
		return nil, fmt.Errorf("throttle reads: %w", err)
	}
	id := fmt.Sprintf("%d:%d", (st.Rdev>>8)&0xfff, (st.Rdev&0xff)|((st.Rdev>>12)&0xfff00))
	if err := os.WriteFile(file, []byte(fmt.Sprintf("%s %d", id, bps)), 0); err != nil {
		return nil, fmt.Errorf("throttle reads of %s (%s) with cgroup v1 blkio: %w", dev, id, err)
	}
	return func() { _ = os.WriteFile(file, []byte(id+" 0"), 0) }, nil
}

// dropPageCache writes back dirty pages and empties the page cache, so
// that the next join reads its old data from the (throttled) disk, as a
// node whose data does not fit in memory does.
func dropPageCache() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		return fmt.Errorf("drop the page cache: %w", err)
	}
	return nil
}

// backupWait returns, from the donor's error log of its last SST, the
// seconds between the donor starting its data stage (it connects to the
// joiner right after "Streaming the backup to joiner") and starting
// mariadb-backup ("mariadb-backup backup: <command>"), or -1 if the log
// does not say (the stock script logs neither).
func backupWait(log string) float64 {
	start, ok1 := galeratest.LastSSTStamp(log, "Streaming the backup to joiner at")
	backup, ok2 := galeratest.LastSSTStamp(log, "mariadb-backup backup: ")
	if !ok1 || !ok2 || backup.Before(start) {
		return -1
	}
	return backup.Sub(start).Seconds()
}
