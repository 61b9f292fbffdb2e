package ui

import "fmt"

// Bytes formats n bytes in binary units with one decimal: "512 B",
// "1.5 GiB". It is the one byte formatter of log messages and the bar.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
