package proc

import "syscall"

// sysProcAttr puts the child in its own process group and has the kernel
// SIGKILL it when the thread that started it exits (see the package note).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
