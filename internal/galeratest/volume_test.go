package galeratest

import (
	"slices"
	"strings"
	"testing"
)

func TestMkfsCommand(t *testing.T) {
	for _, tc := range []struct {
		fs   string
		want []string
		pkg  string
	}{
		{"ext4", []string{"mkfs.ext4", "-q", "-F", "IMG"}, "e2fsprogs"},
		{"xfs", []string{"mkfs.xfs", "-q", "-f", "-m", "reflink=1", "IMG"}, "xfsprogs"},
		{"btrfs", []string{"mkfs.btrfs", "-q", "-f", "IMG"}, "btrfs-progs"},
	} {
		got, pkg, err := mkfsCommand(tc.fs, "IMG")
		if err != nil || !slices.Equal(got, tc.want) || pkg != tc.pkg {
			t.Errorf("mkfsCommand(%q) = %q, %q, %v; want %q, %q, nil", tc.fs, got, pkg, err, tc.want, tc.pkg)
		}
	}
	for _, fs := range []string{"ext3", "zfs", "EXT4"} {
		if _, _, err := mkfsCommand(fs, "IMG"); err == nil || !strings.Contains(err.Error(), "want ext4, xfs or btrfs") {
			t.Errorf("mkfsCommand(%q) error = %v, want an unknown type", fs, err)
		}
	}
}

func TestMountSource(t *testing.T) {
	// From /proc/self/mountinfo after "mount -o loop img /tmp/x/node2/data",
	// with a second mount stacked on a path with a space.
	info := []byte(`26 1 254:0 / / rw,relatime - ext4 /dev/vda rw
44 26 7:0 / /tmp/x/node2/data rw,relatime - ext4 /dev/loop0 rw
45 26 7:1 / /tmp/a\040b rw,relatime shared:7 - xfs /dev/loop1 rw,attr2
46 45 7:2 / /tmp/a\040b rw,relatime - btrfs /dev/loop2 rw
`)
	for _, tc := range []struct {
		mnt, want string
		ok        bool
	}{
		{"/tmp/x/node2/data", "/dev/loop0", true},
		{"/tmp/a b", "/dev/loop2", true}, // the topmost
		{"/tmp/x", "", false},
		{"/", "/dev/vda", true},
	} {
		got, ok := mountSource(info, tc.mnt)
		if got != tc.want || ok != tc.ok {
			t.Errorf("mountSource(%q) = %q, %v; want %q, %v", tc.mnt, got, ok, tc.want, tc.ok)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:    "/a b",
		`/tab\011x`:  "/tab\tx",
		`/back\134s`: `/back\s`,
		`/short\04`:  `/short\04`,
		`/plain`:     "/plain",
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCommandLineBindsVolume(t *testing.T) {
	n := testNode("mysql")
	n.root = "/chroot"
	n.vol = &volume{img: "/base/node1/datadir.ext4.img", mounted: true}
	_, args := n.commandLine("mariadbd", "--user=mysql")
	sep := slices.Index(args, "--")
	sep += slices.Index(args[sep+1:], "--") + 1 // the wrapper's own "--"
	if sep < 1 || args[sep-1] != n.datadir {
		t.Errorf("command line %q: want the datadir %s bound last, before --", args, n.datadir)
	}
}
