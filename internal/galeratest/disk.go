package galeratest

import (
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"
)

// UsedBytes returns the bytes in use on dir's filesystem: its blocks
// less the free ones, as statfs counts them.
func UsedBytes(dir string) (int64, error) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(dir, &s); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(s.Blocks-s.Bfree) * int64(s.Bsize), nil
}

// DiskSampler follows the used bytes of one filesystem, during a join
// for instance, for the peak over what was used at the start, over the
// whole sampling or up to a moment (PeakBefore).
type DiskSampler struct {
	stopc, done chan struct{}
	mu          sync.Mutex
	start       int64
	samples     []diskSample // the first is the start
}

type diskSample struct {
	at   time.Time
	used int64
}

// SampleDisk samples the used bytes of dir's filesystem every interval
// until Stop. It fails only if the first sample does; a later failing
// sample is skipped.
func SampleDisk(dir string, every time.Duration) (*DiskSampler, error) {
	u, err := UsedBytes(dir)
	if err != nil {
		return nil, err
	}
	s := &DiskSampler{stopc: make(chan struct{}), done: make(chan struct{}), start: u,
		samples: []diskSample{{time.Now(), u}}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-tick.C:
			}
			if u, err := UsedBytes(dir); err == nil {
				s.mu.Lock()
				s.samples = append(s.samples, diskSample{time.Now(), u})
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

// Stop ends the sampling and returns the peak used bytes over those at
// the start. Call it once.
func (s *DiskSampler) Stop() int64 {
	close(s.stopc)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.growth(len(s.samples))
}

// PeakBefore returns the peak used bytes, over those at the start, of the
// samples taken before t: the growth up to a moment that a log line
// stamps, for instance. Call it after Stop.
func (s *DiskSampler) PeakBefore(t time.Time) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := slices.BinarySearchFunc(s.samples, t, func(x diskSample, t time.Time) int { return x.at.Compare(t) })
	return s.growth(n)
}

// growth is the peak of the first n samples over the start (0 if none
// is above it).
func (s *DiskSampler) growth(n int) int64 {
	peak := s.start
	for _, x := range s.samples[:n] {
		peak = max(peak, x.used)
	}
	return peak - s.start
}
