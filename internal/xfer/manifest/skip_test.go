package manifest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// skipChildDir, when set, makes the test binary build a manifest of that
// directory with OnSkip, print the skipped paths and the files kept, and
// exit: TestBuildSkipsUnreadable runs it as an unprivileged user, since
// root reads everything.
const skipChildDir = "MANIFEST_TEST_SKIP_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(skipChildDir); dir != "" {
		var skipped []string
		mf, err := Build(context.Background(), dir, BuildOptions{BlockSize: 16384, Seed: 1,
			OnSkip: func(p string, _ error) { skipped = append(skipped, p) }})
		if err != nil {
			fmt.Fprintln(os.Stderr, "skip child:", err)
			os.Exit(1)
		}
		var kept []string
		for _, f := range mf.Files() {
			kept = append(kept, f.Path)
		}
		fmt.Printf("skipped=%s\nkept=%s\n", strings.Join(skipped, ","), strings.Join(kept, ","))
		// Without OnSkip the same tree fails the build.
		if _, err := Build(context.Background(), dir, BuildOptions{BlockSize: 16384, Seed: 1}); err == nil {
			fmt.Fprintln(os.Stderr, "skip child: a build without OnSkip succeeded")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestBuildSkipsUnreadable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to build as another user")
	}
	const uid, gid = 65534, 65534 // nobody
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "data")
	writeFile(t, dir, "db/t1.ibd", make([]byte, 10000))
	writeFile(t, dir, "db/secret.ibd", []byte("root only"))
	writeFile(t, dir, "lost+found/#12", []byte("fsck"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(filepath.Join(dir, "db/secret.ibd"), 0o600))
	must(os.Chmod(filepath.Join(dir, "lost+found"), 0o700))
	self, err := os.Executable()
	must(err)
	b, err := os.ReadFile(self)
	must(err)
	exe := filepath.Join(base, "manifest.test")
	must(os.WriteFile(exe, b, 0o755))
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), skipChildDir+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	got := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		got[k] = strings.Split(v, ",")
	}
	if want := []string{"db/secret.ibd", "lost+found"}; !slices.Equal(got["skipped"], want) {
		t.Errorf("skipped %q, want %q", got["skipped"], want)
	}
	if want := []string{"db/t1.ibd"}; !slices.Equal(got["kept"], want) {
		t.Errorf("kept %q, want %q", got["kept"], want)
	}
}
