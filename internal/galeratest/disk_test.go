package galeratest

import (
	"testing"
	"time"
)

func TestPeakBefore(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := &DiskSampler{start: 100, samples: []diskSample{
		{at(0), 100}, {at(50), 90}, {at(100), 130}, {at(150), 120}, {at(200), 190}, {at(250), 10},
	}}
	for _, tc := range []struct {
		before int
		want   int64
	}{
		{0, 0},    // nothing sampled before the start
		{60, 0},   // less than at the start is no growth
		{100, 0},  // a sample at the moment itself is not before it
		{101, 30}, // the peak so far
		{199, 30},
		{300, 90}, // the whole peak
	} {
		if got := s.PeakBefore(at(tc.before)); got != tc.want {
			t.Errorf("PeakBefore(+%dms) = %d, want %d", tc.before, got, tc.want)
		}
	}
}
