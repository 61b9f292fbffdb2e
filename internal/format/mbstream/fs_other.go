//go:build !linux

package mbstream

// startWriteback is a no-op where sync_file_range does not exist.
func startWriteback(outWriter, int64, int64) {}

// punchHole writes n zeros at off: there is no portable hole punching.
func punchHole(f outWriter, off, n int64) error {
	return writeZeros(f, off, n)
}
