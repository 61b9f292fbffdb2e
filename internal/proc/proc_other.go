//go:build unix && !linux

package proc

import "syscall"

// sysProcAttr puts the child in its own process group. There is no
// Pdeathsig outside Linux: a child outlives a killed parent.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
