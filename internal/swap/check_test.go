package swap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// checkChildDir, when set, makes the test binary print Check's result for
// a plan of that datadir as JSON and exit: the parent runs it as an
// unprivileged user, since root passes every permission check.
const checkChildDir = "SWAP_TEST_CHECK_DIR"

func checkChild(dir string) error {
	bad, err := Check(Plan{Dirs: []string{dir}, Journal: filepath.Join(dir, "sst_swap.journal")})
	if err != nil {
		return err
	}
	var out []string
	for _, u := range bad {
		out = append(out, fmt.Sprintf("%s|%v|%s", filepath.Base(u.Path), errors.Is(u.Err, os.ErrPermission), u.Reason))
	}
	size, unreadable, err := SizeUnreadable(Plan{Dirs: []string{dir}, Journal: filepath.Join(dir, "sst_swap.journal")})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"bad": out, "size": size, "unreadable": unreadable})
}

func TestLostFoundIsNeverMoved(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	writeTree(t, base, map[string]string{
		"data/ibdata1":             "old",
		"data/lost+found/":         "",
		"data/lost+found/#1234":    "fsck found this",
		"data/.status.json":        "{}",
		"data/..status.json.tmp42": "{",
	})
	p := Plan{Dirs: []string{data}, Journal: filepath.Join(data, "sst_swap.journal"),
		Skip: []string{filepath.Join(data, ".status.json"), filepath.Join(data, "..status.json.tmp*")}}
	n, err := Size(p)
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 || n > 64<<10 {
		t.Errorf("Size = %d, want ibdata1's few KiB only", n)
	}
	sw, err := Begin(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if sw.Moved() != 1 {
		t.Errorf("moved %d entries, want 1 (ibdata1)", sw.Moved())
	}
	if err := os.WriteFile(filepath.Join(data, "ibdata1"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sw.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !sw.Committed() {
		t.Error("Committed() = false after Commit")
	}
	for _, f := range []string{"lost+found/#1234", ".status.json", "..status.json.tmp42"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("%s: %v, want it left in place", f, err)
		}
	}
}

// TestCheckUnprivileged lays out a datadir as a dedicated volume owned by
// mysqld's user looks, and runs Check and SizeUnreadable as that user
// (nobody here): the root-owned 0700 directory cannot be moved or
// measured, lost+found is not even looked at.
func TestCheckUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the check as another user")
	}
	const uid, gid = 65534, 65534 // nobody, nogroup
	base := t.TempDir()
	// t.TempDir and its parent are 0700: let nobody in.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(base, "data")
	writeTree(t, base, map[string]string{
		"data/ibdata1":        strings.Repeat("x", 8192),
		"data/mysql/":         "",
		"data/mysql/user.MAD": "u",
		"data/lost+found/":    "",
		"data/rootdir/":       "",
		"data/rootdir/secret": "s",
		"data/rootfile":       "owned by root, moved with the datadir's permission",
	})
	for _, p := range []string{"", "ibdata1", "mysql", "mysql/user.MAD"} {
		if err := os.Lchown(filepath.Join(data, p), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"lost+found", "rootdir"} {
		if err := os.Chmod(filepath.Join(data, p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary sits in a 0700 build directory: run a copy.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(base, "swap.test")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), checkChildDir+"="+data)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	var got struct {
		Bad        []string `json:"bad"`
		Size       int64    `json:"size"`
		Unreadable []string `json:"unreadable"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	if len(got.Bad) != 1 || !strings.HasPrefix(got.Bad[0], "rootdir|true|") || !strings.Contains(got.Bad[0], "uid 0 gid 0, mode 0700") {
		t.Errorf("Check as nobody = %q, want only rootdir, denied, naming its owner and mode", got.Bad)
	}
	if want := []string{filepath.Join(data, "rootdir")}; !slices.Equal(got.Unreadable, want) {
		t.Errorf("unreadable = %q, want %q", got.Unreadable, want)
	}
	if got.Size < 8192 {
		t.Errorf("size = %d, want at least ibdata1's 8192 bytes", got.Size)
	}
}

// TestCheckAs judges another user's permissions from the mode bits, as
// check does when run as root for mysqld's user.
func TestCheckAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	const uid, gid = 4242, 4343
	data := t.TempDir()
	writeTree(t, data, map[string]string{
		"own/":      "",
		"group/":    "",
		"rootonly/": "",
		"file":      "x",
	})
	chown := func(p string, u, g int, mode os.FileMode) {
		t.Helper()
		if err := os.Chown(filepath.Join(data, p), u, g); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(data, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	chown("", uid, gid, 0o750)
	chown("own", uid, gid, 0o700)
	chown("group", 0, gid, 0o770)
	chown("rootonly", 0, 0, 0o755)
	id := &Identity{Name: "mysql", UID: uid, GIDs: []uint32{gid}}
	bad, err := CheckAs(Plan{Dirs: []string{data}, Journal: filepath.Join(data, "sst_swap.journal")}, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || filepath.Base(bad[0].Path) != "rootonly" || !strings.Contains(bad[0].Reason, "user mysql may not rename") || !strings.Contains(bad[0].Reason, "mysql is uid 4242") {
		t.Errorf("CheckAs = %+v, want only rootonly, for user mysql", bad)
	}
	if bad, err := CheckAs(Plan{Dirs: []string{data}, Journal: filepath.Join(data, "sst_swap.journal")}, &Identity{Name: "root"}); err != nil || len(bad) != 0 {
		t.Errorf("CheckAs(root) = %+v, %v; want nothing", bad, err)
	}
}
