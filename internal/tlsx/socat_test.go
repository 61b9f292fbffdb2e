package tlsx

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"wsrep_sst_mariabackup/internal/galeratest"
	"wsrep_sst_mariabackup/internal/tlsx/tlsxtest"
)

// Interoperability with the stock script's transport: the socat command
// lines below are the ones get_transfer builds (after the shell removes
// the quotes), so a stock node on the other side sees exactly this.

func socatBin(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("socat")
	if err != nil {
		t.Skip("socat not found; cannot test interoperability with the stock script:", err)
	}
	out, err := exec.Command(path, "-V").Output()
	if err != nil || !bytes.Contains(out, []byte("WITH_OPENSSL 1")) {
		t.Skip("socat lacks OpenSSL support")
	}
	return path
}

// hashedCADir returns a CA path socat (OpenSSL) can use: it finds CA
// certificates by subject hash, so the file must be named <hash>.0.
func hashedCADir(t *testing.T, ca string) string {
	t.Helper()
	out, err := exec.Command(openssl(t), "x509", "-hash", "-noout", "-in", ca).Output()
	if err != nil {
		t.Fatalf("openssl x509 -hash: %v", err)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tlsxtest.WriteFile(t, dir, strings.TrimSpace(string(out))+".0", pem)
	return dir
}

// dialRetry connects while socat is still starting to listen.
func dialRetry(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			tc := tls.Client(c, cfg)
			tc.SetDeadline(time.Now().Add(60 * time.Second))
			if err := tc.Handshake(); err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond) // polling for socat's listen, not a wait for correctness
	}
}

// TestSocatJoiner: a stock joiner (socat openssl-listen) receives from our
// donor (ClientConfig).
func TestSocatJoiner(t *testing.T) {
	bin := socatBin(t)
	k := tlsxtest.NewPKI(t)
	data := randomBytes(t, 4<<20+13)
	caDir := hashedCADir(t, k.CA)
	tests := []struct {
		name   string
		opts   string // get_transfer's joiner options after "reuseaddr"
		client Params
		wantOK bool
	}{
		{"encrypt=2", "cert=" + k.Combined + ",cafile=" + k.CA + ",commonname=",
			Params{Encrypt: 2, Cert: k.CombinedDonor, CA: k.CA}, true},
		{"encrypt=3 no CA", "cert=" + k.JoinerCert + ",key=" + k.JoinerKey + ",verify=0",
			Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey}, true},
		// Our TLS 1.2 suites (ECDHE with AEAD only) against OpenSSL's defaults.
		{"encrypt=3 no CA TLS 1.2", "cert=" + k.JoinerCert + ",key=" + k.JoinerKey + ",verify=0,openssl-max-proto-version=TLS1.2",
			Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey}, true},
		{"encrypt=3 no CA TLS 1.2 RSA", "cert=" + k.RSACert + ",key=" + k.RSAKey + ",verify=0,openssl-max-proto-version=TLS1.2",
			Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey}, true},
		{"encrypt=3 CA VERIFY_IDENTITY", "cert=" + k.JoinerCert + ",key=" + k.JoinerKey + ",cafile=" + k.CA + ",commonname=",
			Params{Encrypt: 3, Mode: ModeVerifyIdentity, Cert: k.DonorCert, Key: k.DonorKey, CA: k.CA, PeerName: "joiner.example"}, true},
		{"encrypt=4 capath localhost", "cert=" + k.JoinerCert + ",key=" + k.JoinerKey + ",capath=" + caDir + ",commonname=",
			Params{Encrypt: 4, Cert: k.DonorCert, Key: k.DonorKey, CA: k.CA, PeerName: "localhost"}, true},
		{"CN-only joiner cert", "cert=" + k.CNOnlyCert + ",key=" + k.CNOnlyKey + ",cafile=" + k.CA + ",commonname=",
			Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey, CA: k.CA, PeerName: "node1"}, true},
		{"intermediate bundle joiner cert", "cert=" + k.ChainCert + ",key=" + k.ChainKey + ",cafile=" + k.CA + ",commonname=",
			Params{Encrypt: 3, Cert: k.ChainCert, Key: k.ChainKey, CA: k.CA, PeerName: "chained.example"}, true},
		{"wrong name", "cert=" + k.JoinerCert + ",key=" + k.JoinerKey + ",cafile=" + k.CA + ",commonname=",
			Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey, CA: k.CA, PeerName: "evil.example"}, false},
		{"joiner with another CA", "cert=" + k.OtherCert + ",key=" + k.OtherKey + ",cafile=" + k.OtherCA + ",commonname=",
			Params{Encrypt: 3, Cert: k.DonorCert, Key: k.DonorKey, CA: k.CA}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := galeratest.FreePort(t)
			cmd := exec.CommandContext(t.Context(), bin, "-u", fmt.Sprintf("openssl-listen:%d,reuseaddr,%s", port, tt.opts), "stdio")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			client := mustClient(t, tt.client)
			c, err := dialRetry(t, "127.0.0.1:"+strconv.Itoa(port), client)
			if err == nil {
				_, err = c.Write(data)
				if cerr := Shutdown(t.Context(), c); err == nil {
					err = cerr
				}
			}
			if !tt.wantOK {
				if err == nil {
					// TLS 1.3: a rejection by socat shows up in its exit status.
					err = cmd.Wait()
				} else {
					cmd.Process.Kill()
					cmd.Wait()
				}
				if err == nil {
					t.Fatal("transfer succeeded; want failure")
				}
				return
			}
			if err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("send: %v; socat: %s", err, stderr.Bytes())
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("socat: %v: %s", err, stderr.Bytes())
			}
			if !bytes.Equal(stdout.Bytes(), data) {
				t.Fatalf("socat received %d bytes, differing from the %d sent", stdout.Len(), len(data))
			}
		})
	}
}

// TestSocatDonor: a stock donor (socat openssl-connect, no-sni=1) sends to
// our joiner (ServerConfig).
func TestSocatDonor(t *testing.T) {
	bin := socatBin(t)
	k := tlsxtest.NewPKI(t)
	data := randomBytes(t, 4<<20+13)
	caDir := hashedCADir(t, k.CA)
	joiner3 := Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey, CA: k.CA}
	tests := []struct {
		name   string
		opts   string // get_transfer's donor options after no-sni=1
		server Params
		wantOK bool
	}{
		{"encrypt=2", "cert=" + k.CombinedDonor + ",cafile=" + k.CA + ",commonname=",
			Params{Encrypt: 2, Cert: k.Combined, CA: k.CA}, true},
		{"encrypt=3 no CA", "cert=" + k.DonorCert + ",key=" + k.DonorKey + ",verify=0",
			Params{Encrypt: 3, Cert: k.JoinerCert, Key: k.JoinerKey}, true},
		{"encrypt=3 remote user CN", "cert=" + k.DonorCert + ",key=" + k.DonorKey + ",cafile=" + k.CA + ",commonname=joiner.example", joiner3, true},
		{"encrypt=3 localhost", "cert=" + k.DonorCert + ",key=" + k.DonorKey + ",cafile=" + k.CA + ",commonname=localhost", joiner3, true},
		{"encrypt=3 IP SAN", "cert=" + k.DonorCert + ",key=" + k.DonorKey + ",cafile=" + k.CA + ",commonname=127.0.0.1",
			Params{Encrypt: 3, Cert: k.IPCert, Key: k.IPKey, CA: k.CA}, true},
		{"encrypt=3 CN-only", "cert=" + k.DonorCert + ",key=" + k.DonorKey + ",cafile=" + k.CA + ",commonname=node1",
			Params{Encrypt: 3, Cert: k.CNOnlyCert, Key: k.CNOnlyKey, CA: k.CA}, true},
		{"encrypt=4 capath", "cert=" + k.DonorCert + ",key=" + k.DonorKey + ",capath=" + caDir + ",commonname=",
			Params{Encrypt: 4, Cert: k.JoinerCert, Key: k.JoinerKey, CAPath: k.CADir}, true},
		{"donor intermediate bundle", "cert=" + k.ChainCert + ",key=" + k.ChainKey + ",cafile=" + k.CA + ",commonname=", joiner3, true},
		{"socat rejects name", "cert=" + k.DonorCert + ",key=" + k.DonorKey + ",cafile=" + k.CA + ",commonname=evil.example", joiner3, false},
		{"we reject donor CA", "cert=" + k.OtherCert + ",key=" + k.OtherKey + ",cafile=" + k.CA + ",commonname=", joiner3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			server := mustServer(t, tt.server)
			res := readOneTLS(ln, server)
			port := ln.Addr().(*net.TCPAddr).Port
			cmd := exec.CommandContext(t.Context(), bin, "-u", "stdio", fmt.Sprintf("openssl-connect:127.0.0.1:%d,no-sni=1,%s", port, tt.opts))
			cmd.Stdin = bytes.NewReader(data)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			serr := cmd.Run()
			if !tt.wantOK {
				ln.Close()
				r := <-res
				if serr == nil && r.err == nil {
					t.Fatal("transfer succeeded; want failure")
				}
				return
			}
			if serr != nil {
				ln.Close()
				t.Fatalf("socat: %v: %s", serr, stderr.Bytes())
			}
			r := <-res
			if r.err != nil && !errors.Is(r.err, io.EOF) {
				t.Fatalf("receive: %v", r.err)
			}
			if !bytes.Equal(r.b, data) {
				t.Fatalf("received %d bytes, differing from the %d socat sent", len(r.b), len(data))
			}
			if strings.Contains(stderr.String(), " E ") {
				t.Errorf("socat logged errors: %s", stderr.Bytes())
			}
		})
	}
}
