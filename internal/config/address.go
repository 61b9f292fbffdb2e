package config

import (
	"fmt"
	"strconv"
	"strings"
)

// address mirrors the --address branch: it breaks the address into
// host, port and path parts with the script's parameter expansions. Most
// parts are readonly, so a second --address only changes addr and addrPort.
func (l *argLoop) address(a string) {
	l.addr.assign(a)
	var remain string
	if strings.HasPrefix(a, "[") {
		h := trimRight(beforeAny(a[1:], "]"))
		l.hostUnescaped.readonly(h)
		l.host.readonly("[" + h + "]")
		l.hostIPv6.readonly("1")
		remain = afterAny(a, "]") // ${ADDR#*\]}
	} else {
		h := trimRight(beforeAny(a, ":/"))
		l.host.readonly(h)
		l.hostUnescaped.readonly(h)
		l.hostIPv6.readonly("0")
		// ${ADDR#*[:/]}: without a port, "host/path" puts the first path
		// element where the port should be; the script does the same.
		remain = afterAny(a, ":/")
	}
	if remain == a {
		remain = ""
	}
	remain = strings.TrimPrefix(remain, ":")
	addrPort := beforeAny(remain, "/")
	if addrPort != remain {
		l.path.readonly(afterAny(remain, "/"))
	} else {
		l.path.readonly("")
	}
	l.addrPort.assign(trimRight(addrPort))
	path := l.path.val
	remain = afterAny(path, "/")
	l.module.readonly(trimRight(beforeAny(path, "/")))
	if remain != path {
		l.lsn.readonly(trimRight(beforeAny(remain, "/")))
		source := remain
		remain = afterAny(remain, "/")
		if remain != source {
			l.sstVer.readonly(trimRight(beforeAny(remain, "/")))
		} else {
			l.sstVer.readonly("")
		}
	} else {
		l.lsn.readonly("")
		l.sstVer.readonly("")
	}
}

// hostOpt mirrors the --host branch. It sets WSREP_SST_OPT_ADDR to the host
// without brackets; the port stays whatever --address or --port gave.
func (l *argLoop) hostOpt(a string) {
	if strings.HasPrefix(a, "[") {
		a = trimRight(beforeAny(a[1:], "]"))
		l.hostUnescaped.readonly(a)
		l.host.readonly("[" + a + "]")
		l.hostIPv6.readonly("1")
	} else {
		l.host.readonly(a)
		l.hostUnescaped.readonly(a)
		l.hostIPv6.readonly("0")
	}
	l.addr.assign(a)
}

// reconcilePort mirrors the script's port handling after the loop: --port
// and the address port must agree, the port defaults to 4444, and
// WSREP_SST_OPT_ADDR is rebuilt from host, port and path.
func (l *argLoop) reconcilePort() error {
	l.addrRaw = l.addr.val
	if l.addrPort.val != "" {
		if l.port.val != "" {
			if l.port.val != l.addrPort.val {
				return &argError{
					msg: fmt.Sprintf("port in --port=%s differs from port in --address=%s", l.port.val, l.addr.val),
					err: ErrPortConflict,
				}
			}
		} else {
			l.port.readonly(l.addrPort.val)
		}
	} else {
		if l.port.val == "" {
			l.port.readonly("4444")
		}
		l.addrPort.assign(l.port.val)
	}
	sstPath := ""
	if l.path.val != "" {
		sstPath = "/" + l.path.val
	}
	l.addr.assign(l.host.val + ":" + l.port.val + sstPath)
	return nil
}

// validateAddress refuses what the script would hand to socat or nc and
// fail on only after taking the lock, or worse, accept: an empty host
// (--address ” would listen on every interface, or dial localhost) and a
// port that is not a number from 1 to 65535. Errors wrap ErrInvalid.
func validateAddress(a *Args) error {
	if a.HostUnescaped == "" {
		return fmt.Errorf("--address '%s' names no host: pass the address the %s must use (wsrep_sst_receive_address or the node's IP) so the SST does not listen on all interfaces: %w",
			a.AddressRaw, a.Role, ErrInvalid)
	}
	n, err := strconv.Atoi(a.Port)
	if err != nil || n < 1 || n > 65535 || strings.TrimLeft(a.Port, "0123456789") != "" {
		return fmt.Errorf("SST port '%s' (from --address '%s' or --port) is not a number from 1 to 65535: %w",
			a.Port, a.AddressRaw, ErrInvalid)
	}
	return nil
}
