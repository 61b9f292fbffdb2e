package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// update is the -update flag: it regenerates the golden files
// (testdata/cnf/golden/*.golden with the real my_print_defaults,
// testdata/argv/*.golden with the live script).
var update = flag.Bool("update", false, "regenerate golden files with the real tools")

// myPrintDefaults returns the path of the real tool, or "" if it is not
// installed.
func myPrintDefaults(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("my_print_defaults"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/my_print_defaults"); err == nil {
		return "/usr/bin/my_print_defaults"
	}
	return ""
}

// runTool runs my_print_defaults with args in the package directory and a
// controlled environment, and returns its stdout.
func runTool(t *testing.T, tool string, env []string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.Join(err, errors.New(stderr.String()))
	}
	return out, nil
}

// testEnv is an optionEnv on the real file system with env as the whole
// environment.
func testEnv(t *testing.T, env map[string]string) optionEnv {
	t.Helper()
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return optionEnv{
		fsys:   os.DirFS("/"),
		getenv: func(k string) string { return env[k] },
		cwd:    cwd,
	}
}

func readTestFiles(t *testing.T, f Files, env map[string]string) *OptionFiles {
	t.Helper()
	of, err := readOptionFiles(f, testEnv(t, env))
	if err != nil {
		t.Fatalf("readOptionFiles(%+v): %v", f, err)
	}
	return of
}

// printed joins Print's lines as my_print_defaults writes them (puts).
func printed(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

const testCnf = "testdata/cnf/my.cnf"

// cnfCases are the golden cases over testdata/cnf. toolArgs and toolEnv
// give the my_print_defaults invocation equivalent to files; see
// testdata/cnf/README.
var cnfCases = []struct {
	name     string
	files    Files
	toolArgs []string
	toolEnv  []string
	groups   []string
}{
	{
		name:     "mysqld",
		files:    Files{DefaultsFile: testCnf},
		toolArgs: []string{"--defaults-file=" + testCnf},
		groups:   []string{"mysqld"},
	},
	{
		name:     "mysqld-all",
		files:    Files{DefaultsFile: testCnf},
		toolArgs: []string{"--defaults-file=" + testCnf},
		groups:   []string{"--mysqld"},
	},
	{
		name:     "mariadbd-all",
		files:    Files{DefaultsFile: testCnf},
		toolArgs: []string{"--defaults-file=" + testCnf},
		groups:   []string{"--mariadbd"},
	},
	{
		name:     "suffix-mysqld-all",
		files:    Files{DefaultsFile: testCnf, GroupSuffix: ".2"},
		toolArgs: []string{"--defaults-file=" + testCnf, "--defaults-group-suffix=.2"},
		groups:   []string{"--mysqld"},
	},
	{
		name:     "suffix-mysqld",
		files:    Files{DefaultsFile: testCnf, GroupSuffix: ".2"},
		toolArgs: []string{"--defaults-file=" + testCnf, "--defaults-group-suffix=.2"},
		groups:   []string{"mysqld"},
	},
	{
		name:     "sst",
		files:    Files{DefaultsFile: testCnf},
		toolArgs: []string{"--defaults-file=" + testCnf},
		groups:   []string{"sst", "xtrabackup", "mariabackup"},
	},
	{
		name:     "mysqld_safe",
		files:    Files{DefaultsFile: testCnf},
		toolArgs: []string{"--defaults-file=" + testCnf},
		groups:   []string{"mysqld_safe"},
	},
	{
		name:     "client-upper-case",
		files:    Files{DefaultsFile: testCnf},
		toolArgs: []string{"--defaults-file=" + testCnf},
		groups:   []string{"CLIENT"},
	},
	{
		// The tool also reads /etc/my.cnf and /etc/mysql/my.cnf here; the
		// group name is one no real installation uses.
		name: "search-extra-home",
		files: Files{
			ExtraFile: "testdata/cnf/extra.cnf",
			Search:    []string{"testdata/cnf/mysqlhome/my.cnf", "", "~/.my.cnf"},
			Home:      "testdata/cnf/home",
		},
		toolArgs: []string{"--defaults-extra-file=testdata/cnf/extra.cnf"},
		toolEnv:  []string{"MYSQL_HOME=testdata/cnf/mysqlhome", "HOME=testdata/cnf/home"},
		groups:   []string{"wsrep-sst-go-test"},
	},
}

func TestOptionFilesGolden(t *testing.T) {
	tool := myPrintDefaults(t)
	if *update && tool == "" {
		t.Fatal("-update needs my_print_defaults")
	}
	for _, tc := range cnfCases {
		t.Run(tc.name, func(t *testing.T) {
			of := readTestFiles(t, tc.files, nil)
			got := printed(of.Print(tc.groups...))

			golden := filepath.Join("testdata/cnf/golden", tc.name+".golden")
			if tool != "" {
				live, err := runTool(t, tool, tc.toolEnv, append(tc.toolArgs, tc.groups...)...)
				if err != nil {
					t.Fatalf("my_print_defaults: %v", err)
				}
				if *update {
					if err := os.WriteFile(golden, live, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if got != string(live) {
					t.Errorf("Print(%q) differs from live my_print_defaults:\ngot:\n%s\nwant:\n%s", tc.groups, got, live)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("Print(%q) differs from %s:\ngot:\n%s\nwant:\n%s", tc.groups, golden, got, want)
			}
		})
	}
}

func TestOptionFilesFiles(t *testing.T) {
	of := readTestFiles(t, Files{DefaultsFile: testCnf}, nil)
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range of.Files() {
		rel, err := filepath.Rel(cwd, f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rel)
	}
	want := []string{
		"testdata/cnf/my.cnf",
		"testdata/cnf/inc/quotes.cnf",
		"testdata/cnf/conf.d/10-galera.cnf",
		"testdata/cnf/conf.d/20-sst.cnf",
		"testdata/cnf/conf.d/B-upper.cnf",
		"testdata/cnf/conf.d/a-lower.cnf",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Files() = %q, want %q", got, want)
	}
	if w := of.Warnings(); len(w) != 0 {
		t.Errorf("Warnings() = %q, want none", w)
	}
}

func TestOptionNames(t *testing.T) {
	of := readTestFiles(t, Files{DefaultsFile: testCnf}, nil)
	tests := []struct {
		raw, name string
	}{
		{"log_bin", "log-bin"},
		{"loose_innodb_undo_directory", "innodb-undo-directory"},
		{"loose-aria-log-dir-path", "aria-log-dir-path"},
		{"server-id", "server-id"},
	}
	for _, tc := range tests {
		i := slices.IndexFunc(of.options, func(o Option) bool { return o.raw == tc.raw })
		if i < 0 {
			t.Errorf("no option %q", tc.raw)
			continue
		}
		if got := of.options[i].Name; got != tc.name {
			t.Errorf("option %q: Name = %q, want %q", tc.raw, got, tc.name)
		}
	}
}

// lookupCases mirror parse_cnf and in_config calls of the SST script on
// testdata/cnf/my.cnf.
var lookupCases = []struct {
	suffix  string
	groups  string
	key     string
	want    string
	wantOK  bool
	wantHas bool
}{
	{"", "--mysqld", "datadir", "/srv/mysql", true, true},
	{"", "mysqld", "log-bin", "", false, true},
	{"", "--mysqld", "log-bin-index", "mysql-bin.index", true, true},
	{"", "--mysqld", "innodb-data-home-dir", "/data/innodb", true, true},
	{"", "--mysqld", "server-id", "2", true, true},
	{"", "--mysqld", "innodb-undo-directory", "/undo", true, true},
	{"", "--mysqld", "aria-log-dir-path", "/aria", true, true},
	{"", "--mysqld", "innodb-log-group-home-dir", "/redo", true, true},
	{"", "mysqld", "innodb-log-group-home-dir", "", false, false},
	{"", "--mysqld", "tmpdir", "", false, true},
	{"", "sst", "progress", "/tmp/progress", true, true},
	{"", "sst|xtrabackup|mariabackup", "parallel", "2", true, true},
	{"", "mariabackup|xtrabackup", "parallel", "4", true, true},
	{"", "sst|xtrabackup|mariabackup", "compact", "", false, true},
	{"", "sst", "space-escape", "padded", true, true},
	{"", "sst", "escapes", "a", true, true},
	{"", "sst", "sockopt", ",keepalive", true, true},
	{"", "sst", "compressor", "lz4 -z", true, true},
	{"", "sst", "inno-backup-opts", "--parallel=4", true, true},
	{"", "sst|--mysqld", "wsrep-sst-method", "mariabackup", true, true},
	{"", "mysqld_safe", "syslog", "", false, true},
	{"", "nosuch|sst", "encrypt", "0", true, true},
	{"", "", "encrypt", "", false, false},
	{"", "sst|", "encrypt", "0", true, true},
	{"", "--mysqld", "wsrep-provider-options", "gcache.size=1G; gcache.page_size=512M", true, true},
	{"", "--mysqld", "ssl-ca", "/etc/ssl/ca # not a comment.pem", true, true},
	{"", "client", "password", "client secret", true, true},
	{"", "mysqld", "leading-space-group", "", false, false},
	{".2", "mysqld", "datadir", "/var/lib/mysql2", true, true},
	{".2", "--mysqld", "datadir", "/srv/mysql", true, true},
	{".2", "mysqld", "from-include", "yes", true, true},
	{".2", "--mysqld", "log-bin", "node2-bin", true, true},
	{".2", "sst", "from-include", "", false, false},
}

func TestLookupHas(t *testing.T) {
	for _, tc := range lookupCases {
		t.Run(tc.suffix+"/"+tc.groups+"/"+tc.key, func(t *testing.T) {
			of := readTestFiles(t, Files{DefaultsFile: testCnf, GroupSuffix: tc.suffix}, nil)
			o, ok := of.Lookup(tc.groups, tc.key)
			if o.Value != tc.want || ok != tc.wantOK {
				t.Errorf("Lookup(%q, %q) = %q, %v; want %q, %v", tc.groups, tc.key, o.Value, ok, tc.want, tc.wantOK)
			}
			if got := of.Has(tc.groups, tc.key); got != tc.wantHas {
				t.Errorf("Has(%q, %q) = %v, want %v", tc.groups, tc.key, got, tc.wantHas)
			}
		})
	}
}

func TestLookupSource(t *testing.T) {
	of := readTestFiles(t, Files{DefaultsFile: testCnf}, nil)
	o, ok := of.Lookup("--mysqld", "datadir")
	if !ok || filepath.Base(o.File) != "my.cnf" || o.Line != 86 || o.Group != "mysqld" {
		t.Errorf("Lookup(--mysqld, datadir) = %+v, %v; want my.cnf:86 [mysqld]", o, ok)
	}
	o, ok = of.Lookup("sst", "progress")
	if !ok || filepath.Base(o.File) != "20-sst.cnf" || o.Line != 3 {
		t.Errorf("Lookup(sst, progress) = %+v, %v; want 20-sst.cnf:3", o, ok)
	}
}

// TestLookupScript runs parse_cnf and in_config, taken from the installed
// wsrep_sst_common, against the real my_print_defaults and compares.
func TestLookupScript(t *testing.T) {
	const common = "/usr/bin/wsrep_sst_common"
	tool := myPrintDefaults(t)
	if tool == "" {
		t.Skip("my_print_defaults not installed")
	}
	if _, err := os.Stat(common); err != nil {
		t.Skip(common + " not installed")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	const script = `eval "$(sed -n -e '/^trim_string()/,/^}/p' -e '/^parse_cnf()/,/^}/p' -e '/^in_config()/,/^}/p' "$COMMON")"
printf '%s\n' "$(parse_cnf "$1" "$2")"
in_config "$1" "$2"`
	for _, tc := range lookupCases {
		t.Run(tc.suffix+"/"+tc.groups+"/"+tc.key, func(t *testing.T) {
			env := []string{
				"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "COMMON=" + common,
				"MY_PRINT_DEFAULTS=" + tool, "WSREP_SST_OPT_DEFAULT=--defaults-file=" + testCnf,
			}
			if tc.suffix != "" {
				env = append(env, "WSREP_SST_OPT_SUFFIX_DEFAULT=--defaults-group-suffix="+tc.suffix,
					"WSREP_SST_OPT_SUFFIX_VALUE="+tc.suffix)
			}
			cmd := exec.Command("bash", "-c", script, "bash", tc.groups, tc.key)
			cmd.Env = env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bash: %v", err)
			}
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("script output %q, want two lines", out)
			}
			of := readTestFiles(t, Files{DefaultsFile: testCnf, GroupSuffix: tc.suffix}, nil)
			if o, _ := of.Lookup(tc.groups, tc.key); o.Value != lines[0] {
				t.Errorf("Lookup(%q, %q) = %q, parse_cnf prints %q", tc.groups, tc.key, o.Value, lines[0])
			}
			if got, want := of.Has(tc.groups, tc.key), lines[1] == "1"; got != want {
				t.Errorf("Has(%q, %q) = %v, in_config prints %q", tc.groups, tc.key, got, lines[1])
			}
		})
	}
}

func TestDefaultSearch(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"plain", nil, []string{"/etc/my.cnf", "/etc/mysql/my.cnf", "", "~/.my.cnf"}},
		{"mysql-home", map[string]string{"MYSQL_HOME": "/opt/m"},
			[]string{"/etc/my.cnf", "/etc/mysql/my.cnf", "/opt/m/my.cnf", "", "~/.my.cnf"}},
		{"mariadb-home-wins", map[string]string{"MYSQL_HOME": "/opt/m", "MARIADB_HOME": "/opt/mdb/"},
			[]string{"/etc/my.cnf", "/etc/mysql/my.cnf", "/opt/mdb/my.cnf", "", "~/.my.cnf"}},
		{"home-is-etc", map[string]string{"MYSQL_HOME": "/etc"},
			[]string{"/etc/mysql/my.cnf", "/etc/my.cnf", "", "~/.my.cnf"}},
		{"home-is-tilde", map[string]string{"MYSQL_HOME": "~"},
			[]string{"/etc/my.cnf", "/etc/mysql/my.cnf", "", "~/.my.cnf"}},
	}
	tool := myPrintDefaults(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := defaultSearch(func(k string) string { return tc.env[k] })
			if !slices.Equal(got, tc.want) {
				t.Errorf("defaultSearch = %q, want %q", got, tc.want)
			}
			if tool == "" {
				return
			}
			// my_print_defaults --help lists the same files (without the
			// extra-file placeholder).
			var env []string
			for k, v := range tc.env {
				env = append(env, k+"="+v)
			}
			out, err := runTool(t, tool, env, "--help")
			if err != nil {
				t.Fatal(err)
			}
			_, list, ok := strings.Cut(string(out), "in the given order:\n")
			if !ok {
				t.Fatalf("no search list in --help output:\n%s", out)
			}
			list, _, _ = strings.Cut(list, "\n")
			want := slices.DeleteFunc(slices.Clone(tc.want), func(s string) bool { return s == "" })
			if live := strings.Fields(list); !slices.Equal(live, want) {
				t.Errorf("my_print_defaults --help lists %q, want %q", live, want)
			}
		})
	}
}

func TestSearchSkipsMissing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.cnf"), "[x]\nb=1\n")
	writeFile(t, filepath.Join(dir, "extra.cnf"), "[x]\ne=1\n")
	of := readTestFiles(t, Files{
		Search:    []string{filepath.Join(dir, "a.cnf"), filepath.Join(dir, "b.cnf"), filepath.Join(dir, "nodir/c.cnf")},
		ExtraFile: filepath.Join(dir, "extra.cnf"),
	}, nil)
	if got, want := of.Print("x"), []string{"--b=1", "--e=1"}; !slices.Equal(got, want) {
		t.Errorf("Print = %q, want %q", got, want)
	}
	if got := len(of.Files()); got != 2 {
		t.Errorf("Files() = %q, want two files", of.Files())
	}
}

func TestDefaultsFileIgnoresExtra(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "d.cnf"), "[x]\nd=1\n")
	writeFile(t, filepath.Join(dir, "e.cnf"), "[x]\ne=1\n")
	of := readTestFiles(t, Files{
		DefaultsFile: filepath.Join(dir, "d.cnf"),
		ExtraFile:    filepath.Join(dir, "e.cnf"),
		Search:       []string{filepath.Join(dir, "e.cnf")},
	}, nil)
	if got, want := of.Print("x"), []string{"--d=1"}; !slices.Equal(got, want) {
		t.Errorf("Print = %q, want %q", got, want)
	}
}

func TestGroupSuffixFromEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "s.cnf"), "[mysqld]\ndatadir=/a\n[mysqld.env]\ndatadir=/b\n")
	of := readTestFiles(t, Files{DefaultsFile: filepath.Join(dir, "s.cnf")},
		map[string]string{"MYSQL_GROUP_SUFFIX": ".env"})
	if got, want := of.Print("mysqld"), []string{"--datadir=/a", "--datadir=/b"}; !slices.Equal(got, want) {
		t.Errorf("Print = %q, want %q", got, want)
	}
	// parse_cnf only knows the suffix from its command line, so it does
	// not try "mysqld.env" alone first.
	if o, _ := of.Lookup("mysqld", "datadir"); o.Value != "/b" {
		t.Errorf("Lookup = %q, want /b", o.Value)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// quirkCases are option files written to a temporary directory ("@DIR@"
// stands for it) whose Print output is compared with the live tool: the
// corners of my_default.c that the committed tree does not show.
var quirkCases = []struct {
	name   string
	files  map[string]string // relative name -> content; "main.cnf" is read
	groups []string
}{
	{"include-at-eof-loses-last-byte", map[string]string{
		"main.cnf": "[x]\na=1\n!include @DIR@/t.cnf",
		"t.cnf":    "[x]\nt=1\n",
	}, []string{"x"}},
	{"include-at-eof-extra-byte", map[string]string{
		"main.cnf": "[x]\na=1\n!include @DIR@/t.cnfX",
		"t.cnf":    "[x]\nt=1\n",
	}, []string{"x"}},
	{"nul-bytes", map[string]string{
		"main.cnf": "[x]\nk=ab\x00cd\n\x00z=1\nq=2\n",
	}, []string{"x"}},
	{"latin1-blanks-and-case", map[string]string{
		"main.cnf": "[\xe9t\xe9]\nk=\xa0v\xa0\nk2=\x0bv\x0c\nk3\x1c=v\x85\n[\xff]\ny=1\n[\xdf\xf7]\nz=1\n",
	}, []string{"\xc9T\xc9", "\xdf", "\xff\xd7"}},
	{"empty-keys", map[string]string{
		"main.cnf": "[x]\n=novalue\n = also # c\n",
	}, []string{"x"}},
	{"groups", map[string]string{
		"main.cnf": "[x ] junk\na=1\n[ x]\nb=1\n[]\nc=1\n[ ]\nd=1\n[x]]\ne=1\n",
	}, []string{"x", "", "x]"}},
	{"longest-line", map[string]string{
		"main.cnf": "[x]\nk=" + strings.Repeat("a", maxLine-2) + "\nz=1\n",
	}, []string{"x"}},
	{"longest-line-no-newline", map[string]string{
		"main.cnf": "[x]\nk=" + strings.Repeat("a", maxLine-2),
	}, []string{"x"}},
	{"nested-errors-end-that-file-only", map[string]string{
		"main.cnf": "[x]\nm1=1\n!include @DIR@/g1.cnf\n!include @DIR@/g2.cnf\n!include @DIR@/g3.cnf\n!includedir @DIR@/d\nm2=1\n",
		"g1.cnf":   "[x]\ng1=1\nbad\n",
		"g2.cnf":   "[x]\ng2=1\n[y\nnot=read\n",
		"g3.cnf":   "[x]\ng3=1\n!include\nnot=read\n",
		"d/a.cnf":  "nogroup=1\n",
		"d/b.cnf":  "[x]\nb=1\n!includedir @DIR@/nonexistent\nnot=read\n",
	}, []string{"x"}},
	{"include-group-scope", map[string]string{
		"main.cnf": "!include @DIR@/i.cnf\n[x]\na=1\n[y]\n!include @DIR@/i.cnf\nb=1\n",
		"i.cnf":    "[x]\ni=1\n",
	}, []string{"y"}},
	{"directives", map[string]string{
		"main.cnf": "[x]\n!foo bar\n!  include   @DIR@/i.cnf  \n!includex\n!include\t@DIR@/i.cnf\r\na=1\n",
		"i.cnf":    "[x]\ni=1\n",
	}, []string{"x"}},
	{"include-depth", map[string]string{
		"main.cnf": "[x]\nm=0\n!include @DIR@/1.cnf\n",
		"1.cnf":    "[x]\nm=1\n!include @DIR@/2.cnf\n",
		"2.cnf":    "[x]\nm=2\n!include @DIR@/3.cnf\n",
		"3.cnf":    "[x]\nm=3\n!include @DIR@/4.cnf\n",
		"4.cnf":    "[x]\nm=4\n!include @DIR@/5.cnf\n",
		"5.cnf":    "[x]\nm=5\n!include @DIR@/6.cnf\n",
		"6.cnf":    "[x]\nm=6\n!include @DIR@/7.cnf\n",
		"7.cnf":    "[x]\nm=7\n!include @DIR@/8.cnf\n",
		"8.cnf":    "[x]\nm=8\n!include @DIR@/9.cnf\n",
		"9.cnf":    "[x]\nm=9\n!include @DIR@/10.cnf\n",
		"10.cnf":   "[x]\nm=10\n!include @DIR@/11.cnf\n",
		"11.cnf":   "[x]\nm=11\n",
	}, []string{"x"}},
	{"includedir-entries", map[string]string{
		"main.cnf":        "[x]\n!includedir @DIR@/d/\n",
		"d/.cnf":          "[x]\nf=.cnf\n",
		"d/.hidden.cnf":   "[x]\nf=.hidden\n",
		"d/10.cnf":        "[x]\nf=10\n",
		"d/9.cnf":         "[x]\nf=9\n",
		"d/_z.cnf":        "[x]\nf=_z\n",
		"d/x.CNF":         "[x]\nf=CNF\n",
		"d/y.cnf.bak":     "[x]\nf=bak\n",
		"d/dir.cnf/a.cnf": "[x]\nf=subdir\n",
	}, []string{"x"}},
}

func TestOptionFileQuirks(t *testing.T) {
	tool := myPrintDefaults(t)
	for _, tc := range quirkCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), strings.ReplaceAll(content, "@DIR@", dir))
			}
			main := filepath.Join(dir, "main.cnf")
			of, err := readOptionFiles(Files{DefaultsFile: main}, testEnv(t, nil))
			if err != nil {
				t.Fatalf("readOptionFiles: %v", err)
			}
			got := printed(of.Print(tc.groups...))
			if tool == "" {
				t.Skip("my_print_defaults not installed; parsed without comparing")
			}
			live, err := runTool(t, tool, nil, append([]string{"--defaults-file=" + main}, tc.groups...)...)
			if err != nil {
				t.Fatalf("my_print_defaults: %v", err)
			}
			if got != string(live) {
				t.Errorf("Print(%q) differs from live my_print_defaults:\ngot:  %q\nwant: %q", tc.groups, got, live)
			}
		})
	}
}

func TestWorldWritableIgnored(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "ww.cnf")
	writeFile(t, name, "[x]\nww=1\n")
	if err := os.Chmod(name, 0o666); err != nil {
		t.Fatal(err)
	}
	of, err := readOptionFiles(Files{DefaultsFile: name}, testEnv(t, nil))
	if err != nil {
		t.Fatalf("readOptionFiles: %v", err)
	}
	if got := of.Print("x"); len(got) != 0 {
		t.Errorf("Print = %q, want nothing", got)
	}
	if w := of.Warnings(); len(w) != 1 || !strings.Contains(w[0], "World-writable") {
		t.Errorf("Warnings() = %q, want one about the world-writable file", w)
	}
}

func TestOptionFileErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // relative name -> content; "@DIR@" is the directory
		f     Files             // "@DIR@" in DefaultsFile/ExtraFile is replaced too
		want  string            // substring of the error
	}{
		{"missing-defaults-file", nil, Files{DefaultsFile: "@DIR@/nope.cnf"}, "could not open required defaults file"},
		{"missing-extra-file", nil, Files{ExtraFile: "@DIR@/nope.cnf", Search: []string{}}, "nope.cnf"},
		{"defaults-file-is-directory", map[string]string{"d/x.cnf": "[x]\n"}, Files{DefaultsFile: "@DIR@/d"}, "directory"},
		{"include-loop", map[string]string{
			"a.cnf": "[x]\na=1\n!include @DIR@/b.cnf\n",
			"b.cnf": "[x]\nb=1\n!include @DIR@/a.cnf\n",
		}, Files{DefaultsFile: "@DIR@/a.cnf"}, "include loop"},
		{"include-self", map[string]string{
			"a.cnf": "[x]\na=1\n!include @DIR@/./a.cnf\n",
		}, Files{DefaultsFile: "@DIR@/a.cnf"}, "include loop"},
		{"includedir-loop", map[string]string{
			"d/a.cnf": "[x]\na=1\n!includedir @DIR@/d\n",
		}, Files{DefaultsFile: "@DIR@/d/a.cnf"}, "include loop"},
		{"long-line", map[string]string{
			"a.cnf": "[x]\nk=" + strings.Repeat("a", maxLine-1) + "\n",
		}, Files{DefaultsFile: "@DIR@/a.cnf"}, "a.cnf:2: line longer"},
		{"long-line-at-eof", map[string]string{
			"a.cnf": "[x]\nk=" + strings.Repeat("a", maxLine-1),
		}, Files{DefaultsFile: "@DIR@/a.cnf"}, "a.cnf:2: line longer"},
		{"huge-line", map[string]string{
			"a.cnf": "[x]\nk=" + strings.Repeat("a", 1<<20) + "\n",
		}, Files{DefaultsFile: "@DIR@/a.cnf"}, "line longer"},
		{"long-line-in-include", map[string]string{
			"a.cnf": "[x]\n!include @DIR@/b.cnf\n",
			"b.cnf": "[x]\n\n" + strings.Repeat(" ", maxLine+1) + "\n",
		}, Files{DefaultsFile: "@DIR@/a.cnf"}, "b.cnf:3: line longer"},
		{"option-without-group", map[string]string{"a.cnf": "a=1\n[x]\n"}, Files{DefaultsFile: "@DIR@/a.cnf"}, "a.cnf:1: option without preceding group"},
		{"bad-group", map[string]string{"a.cnf": "[x]\n[y\n"}, Files{DefaultsFile: "@DIR@/a.cnf"}, "a.cnf:2: wrong group"},
		{"bad-include", map[string]string{"a.cnf": "[x]\n!include   \n"}, Files{DefaultsFile: "@DIR@/a.cnf"}, "a.cnf:2: wrong '!include'"},
		{"bad-includedir", map[string]string{"a.cnf": "[x]\n!includedir @DIR@/none\n"}, Files{DefaultsFile: "@DIR@/a.cnf"}, "a.cnf:2: read !includedir"},
		{"error-in-search-file", map[string]string{"a.cnf": "x=1\n"}, Files{Search: []string{"@DIR@/a.cnf"}}, "a.cnf:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), strings.ReplaceAll(content, "@DIR@", dir))
			}
			f := tc.f
			f.DefaultsFile = strings.ReplaceAll(f.DefaultsFile, "@DIR@", dir)
			f.ExtraFile = strings.ReplaceAll(f.ExtraFile, "@DIR@", dir)
			for i, s := range f.Search {
				f.Search[i] = strings.ReplaceAll(s, "@DIR@", dir)
			}
			of, err := readOptionFiles(f, testEnv(t, nil))
			if err == nil {
				t.Fatalf("readOptionFiles = %q, want an error", of.Print("x"))
			}
			if !errors.Is(err, ErrFile) {
				t.Errorf("error %q does not wrap ErrFile", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "a.cnf")
	writeFile(t, name, "[x]\na=1\n")
	if err := os.Chmod(name, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadOptionFiles(Files{DefaultsFile: name}); !errors.Is(err, ErrFile) {
		t.Errorf("ReadOptionFiles(unreadable) error = %v, want ErrFile", err)
	}
	// In the search list and behind !include, my_print_defaults skips it.
	of, err := ReadOptionFiles(Files{Search: []string{name}})
	if err != nil || len(of.Print("x")) != 0 {
		t.Errorf("ReadOptionFiles(Search: unreadable) = %v, %v; want nothing read", of, err)
	}
}

func TestReadOptionFilesRelative(t *testing.T) {
	// The exported entry point resolves relative names from the working
	// directory, as fn_expand does.
	of, err := ReadOptionFiles(Files{DefaultsFile: testCnf})
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := of.Lookup("--mysqld", "datadir"); !ok || o.Value != "/srv/mysql" {
		t.Errorf("Lookup = %q, %v; want /srv/mysql", o.Value, ok)
	}
}
