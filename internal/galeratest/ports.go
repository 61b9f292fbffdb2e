package galeratest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Ports for nodes come from below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), never from it: a port the kernel handed
// out with bind(:0) is free only until the next outgoing connection takes
// it as its local port, and a node's gcomm, IST and SST ports must stay free
// from the moment they are written into every node's my.cnf until that node
// starts, seconds or minutes later (CI once lost a run to a joiner whose
// gcomm port an outgoing connection of the donor held by then). Outside
// the ephemeral range only another listener can take a port, and each
// candidate is tried on 0.0.0.0 and 127.0.0.1 before it is handed out.
const (
	portFloor   = 10000
	portDefault = 32768 // the kernel's default start of the ephemeral range
)

var portsMu sync.Mutex
var portsGiven = map[int]bool{} // never handed out twice by this process

// freePorts returns n distinct TCP ports that nothing listens on, outside
// the ephemeral range.
func freePorts(n int) ([]int, error) {
	hi := ephemeralStart()
	if hi-portFloor < 1000 {
		return nil, fmt.Errorf("allocate port: ephemeral range starts at %d; leave ports %d-%d free for tests", hi, portFloor, portDefault-1)
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			return nil, fmt.Errorf("allocate port: no free port in %d-%d", portFloor, hi-1)
		}
		p := portFloor + rand.IntN(hi-portFloor)
		if portsGiven[p] || !listenable(p) {
			continue
		}
		portsGiven[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

// listenable reports whether a listener could bind p on every address
// nodes use.
func listenable(p int) bool {
	for _, host := range []string{"0.0.0.0", "127.0.0.1"} {
		l, err := net.Listen("tcp4", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// ephemeralStart returns the first port of the kernel's ephemeral range.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return portDefault
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return portDefault
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= 0 {
		return portDefault
	}
	return lo
}

// FreePort returns a loopback TCP port that nothing listens on, outside the
// ephemeral range: the one home of that test helper for every package's
// tests.
func FreePort(t testing.TB) int {
	t.Helper()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}
