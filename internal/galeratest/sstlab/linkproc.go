package main

// What the link benchmark reads from the kernel: the loopback counters,
// the SST programs' peak RSS, and block checksums of a datadir.

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
	"wsrep_sst_mariabackup/internal/sstdir"
)

// loTxPath is the transmit byte counter of the loopback interface; inside
// "ip netns exec" /sys is the namespace's, so it counts only that
// namespace's traffic. Every loopback packet is transmitted once.
const loTxPath = "/sys/class/net/lo/statistics/tx_bytes"

func loTxBytes() (int64, error) {
	b, err := os.ReadFile(loTxPath)
	if err != nil {
		return 0, fmt.Errorf("read loopback counter: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read loopback counter %s: %w", loTxPath, err)
	}
	return n, nil
}

// inNetns reports whether this process runs in a named network namespace
// (one of /run/netns, as "ip netns exec" sets up), not the host's.
func inNetns() bool {
	var self syscall.Stat_t
	if syscall.Stat("/proc/self/ns/net", &self) != nil {
		return false
	}
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return false
	}
	for _, e := range entries {
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/run/netns", e.Name()), &st) == nil && st.Dev == self.Dev && st.Ino == self.Ino {
			return true
		}
	}
	return false
}

// sstPids returns the pids of SST programs running with --role role for
// the node whose datadir is datadir: a process whose argv[0], or the
// script an interpreter runs (argv[1] or argv[2], for the stock script's
// "/bin/bash -ue script"), is named wsrep_sst_*, with "--role role" and
// the datadir among its arguments. It reads /proc only, so it is safe
// while the nodes are started and stopped.
func sstPids(role, datadir string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	datadir = filepath.Clean(datadir)
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		if sstArgv(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), role, datadir) {
			out = append(out, pid)
		}
	}
	return out, nil
}

func sstArgv(argv []string, role, datadir string) bool {
	named := false
	for i := 0; i < len(argv) && i < 3; i++ {
		if strings.HasPrefix(filepath.Base(argv[i]), "wsrep_sst_") {
			named = true
		}
	}
	if !named {
		return false
	}
	hasRole, hasDir := false, false
	for i, a := range argv {
		if a == "--role" && i+1 < len(argv) && argv[i+1] == role {
			hasRole = true
		}
		if v, ok := strings.CutPrefix(a, "--datadir="); ok {
			a = v
		}
		if filepath.Clean(a) == datadir {
			hasDir = true
		}
	}
	return hasRole && hasDir
}

// vmHWM returns the peak resident set size of pid in bytes.
func vmHWM(pid int) (int64, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		return n << 10, err == nil
	}
	return 0, false
}

// rssSampler polls the peak RSS of both nodes' SST programs.
type rssSampler struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	peak  [2]int64 // donor, joiner
}

// startRSS samples, every 100 ms until stop, the VmHWM of the donor's and
// the joiner's SST programs. VmHWM only grows, so the last sample of each
// process before it exits is its peak unless it grew in its last 100 ms.
func startRSS(donorDir, joinerDir string) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for i, side := range []struct{ role, dir string }{{"donor", donorDir}, {"joiner", joinerDir}} {
				pids, _ := sstPids(side.role, side.dir)
				for _, p := range pids {
					if v, ok := vmHWM(p); ok {
						s.mu.Lock()
						s.peak[i] = max(s.peak[i], v)
						s.mu.Unlock()
					}
				}
			}
			select {
			case <-s.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peaks of donor and joiner.
func (s *rssSampler) stop() (donor, joiner int64) {
	close(s.stopc)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak[0], s.peak[1]
}

// blockSize is the unit of the changed-data estimate: the InnoDB page.
const blockSize = 16 << 10

// volatileFile reports whether rel (relative to a datadir) is rewritten on
// every start (ibtmp1, the temporary tablespace, is recreated, never
// transferred) or belongs to the SST machinery rather than the data.
func volatileFile(rel string) bool {
	base := filepath.Base(rel)
	switch {
	case base == "galera.cache", base == "grastate.dat", base == "gvwstate.dat", base == "ibtmp1",
		base == sstdir.PidFile, base == sstdir.InProgress,
		strings.HasSuffix(base, ".pem"), strings.HasSuffix(base, ".err"),
		strings.HasSuffix(base, ".log"), strings.Contains(base, ".log."),
		strings.HasPrefix(base, "mariabackup"), strings.HasPrefix(base, "xtrabackup"):
		return true
	}
	first, _, _ := strings.Cut(rel, string(filepath.Separator))
	return strings.HasPrefix(first, ".sst")
}

// blockSums returns the CRC-32C of every 16 KiB block of every data file
// under dir (volatileFile ones left out), keyed by relative path. It is
// for counting changed blocks at equal offsets, not for proving equality.
func blockSums(dir string) (map[string][]uint32, error) {
	table := crc32.MakeTable(crc32.Castagnoli)
	sums := map[string][]uint32{}
	buf := make([]byte, blockSize)
	err := galeratest.WalkFiles(dir, volatileFile, func(rel string, f *os.File) error {
		var list []uint32
		for {
			n, err := io.ReadFull(f, buf)
			if n > 0 {
				list = append(list, crc32.Checksum(buf[:n], table))
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				return err
			}
		}
		sums[rel] = list
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("block checksums of %s: %w", dir, err)
	}
	return sums, nil
}

// blockDiff counts, between two blockSums results, the blocks of the
// later that differ from the earlier at the same offset or are new.
type blockDiff struct {
	changed, total int64 // all files
	// The table the change is made to (sbtest/t1.ibd).
	t1Changed, t1Total int64
	// ib_logfile0 and the like, which always change wholesale.
	logChanged int64
	// files lists the data files with changed blocks, most first.
	files []fileDiff
}

type fileDiff struct {
	rel     string
	changed int64
}

func diffBlocks(before, after map[string][]uint32) blockDiff {
	var d blockDiff
	t1 := filepath.Join(schema, "t1.ibd")
	for rel, a := range after {
		b := before[rel]
		var c int64
		for i, s := range a {
			if i >= len(b) || b[i] != s {
				c++
			}
		}
		switch {
		case strings.HasPrefix(filepath.Base(rel), "ib_logfile"):
			d.logChanged += c
			continue
		case rel == t1:
			d.t1Changed, d.t1Total = c, int64(len(a))
		}
		d.changed += c
		d.total += int64(len(a))
		if c > 0 {
			d.files = append(d.files, fileDiff{rel, c})
		}
	}
	sort.Slice(d.files, func(i, j int) bool {
		if d.files[i].changed != d.files[j].changed {
			return d.files[i].changed > d.files[j].changed
		}
		return d.files[i].rel < d.files[j].rel
	})
	return d
}

func (d blockDiff) String() string {
	pct := func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}
	var top []string
	for i, f := range d.files {
		if i == 4 {
			top = append(top, fmt.Sprintf("%d more files", len(d.files)-i))
			break
		}
		top = append(top, fmt.Sprintf("%s %d", f.rel, f.changed))
	}
	return fmt.Sprintf("joiner datadir before vs after: t1.ibd %d of %d pages differ (%.1f%%), all data files %d of %d 16K blocks (%.1f MB, %.1f%%; %s) plus %.1f MB of redo log",
		d.t1Changed, d.t1Total, pct(d.t1Changed, d.t1Total), d.changed, d.total,
		float64(d.changed*blockSize)/1e6, pct(d.changed, d.total), strings.Join(top, ", "), float64(d.logChanged*blockSize)/1e6)
}
