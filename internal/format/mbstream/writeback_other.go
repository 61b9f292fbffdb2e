//go:build !linux

package mbstream

// startWriteback is a no-op where sync_file_range does not exist.
func startWriteback(outWriter, int64, int64) {}
