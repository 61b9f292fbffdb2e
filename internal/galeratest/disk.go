package galeratest

import (
	"fmt"
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
// for instance, for the peak over what was used at the start.
type DiskSampler struct {
	stopc, done chan struct{}
	mu          sync.Mutex
	start, peak int64
}

// SampleDisk samples the used bytes of dir's filesystem every interval
// until Stop. It fails only if the first sample does; a later failing
// sample is skipped.
func SampleDisk(dir string, every time.Duration) (*DiskSampler, error) {
	u, err := UsedBytes(dir)
	if err != nil {
		return nil, err
	}
	s := &DiskSampler{stopc: make(chan struct{}), done: make(chan struct{}), start: u, peak: u}
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
				s.peak = max(s.peak, u)
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
	return s.peak - s.start
}
