package config

// This file reads MariaDB option files the way my_print_defaults (MariaDB
// 10.11, mysys/my_default.c) does and answers the questions the SST script
// asks of them through its parse_cnf and in_config helpers.
//
// gopkg.in/ini.v1 is deliberately not used for parsing: it cannot reproduce
// my_default.c closely enough. Among other things it treats ';' after a
// value as a comment, does not strip a '#' comment only outside quotes,
// knows neither the \s escape nor the "first and last character are the
// same quote" rule, folds duplicate keys instead of keeping every line in
// file order, matches section names case-sensitively, and has no
// !include/!includedir. A small line scanner ported from
// search_default_file_with_ext is both shorter and exact.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Files selects the option files to read, as mysqld's --defaults-file,
// --defaults-extra-file and --defaults-group-suffix do.
type Files struct {
	// DefaultsFile, when set, is the only file read (plus its includes and
	// ExtraFile is ignored, as in my_print_defaults).
	DefaultsFile string
	// ExtraFile is read after the system-wide files and before ~/.my.cnf,
	// in the place my_default.c reserves for it in the search list.
	ExtraFile string
	// GroupSuffix adds "<group><suffix>" for every group read. "" means
	// the value of $MYSQL_GROUP_SUFFIX, as my_default.c does.
	GroupSuffix string
	// Search replaces the default search list (/etc/my.cnf,
	// /etc/mysql/my.cnf, $MARIADB_HOME or $MYSQL_HOME/my.cnf, ~/.my.cnf);
	// nil means the default list. Tests use it to stay off /etc. An empty
	// entry marks where ExtraFile is read; without one ExtraFile is read
	// last. A leading "~/" stands for Home.
	Search []string
	// Home replaces $HOME for "~/.my.cnf"; "" means $HOME.
	Home string
	// ServerVersion is the "MAJOR.MINOR" version of the server whose
	// version-suffixed groups ([mysqld-10.11], [mariadb-11.8], ...)
	// --mysqld and --mariadbd select; "" means DefaultServerVersion.
	ServerVersion string
}

// Option is one option as my_print_defaults would print it.
type Option struct {
	Group    string // the group it was found in, e.g. "sst" or "mysqld.2"
	Name     string // normalised: "loose-" removed, '_' turned into '-'
	Value    string // unquoted and unescaped
	HasValue bool   // false for a bare key such as "log-bin"
	File     string // the file it came from
	Line     int    // 1-based line number in File

	raw string // the key as written, which is what my_print_defaults prints
}

// printed returns the option in my_print_defaults' form: "--key=value" or
// "--key" for a bare key.
func (o Option) printed() string {
	if !o.HasValue {
		return "--" + o.raw
	}
	return "--" + o.raw + "=" + o.Value
}

// OptionFiles is the parsed content of every option file read, in read
// order. It is immutable after ReadOptionFiles and safe for concurrent use.
type OptionFiles struct {
	files    Files
	suffix   string // effective group suffix (GroupSuffix or $MYSQL_GROUP_SUFFIX)
	options  []Option
	read     []string
	warnings []string
}

const (
	// maxLine is the longest line, without its newline, that my_default.c
	// reads whole: it uses fgets(buff, sizeof(buff) - 1) with a 4096-byte
	// buffer and silently splits longer lines into several "lines". We
	// reject such lines instead.
	maxLine = 4094
	// maxIncludeDepth is max_recursion_level of
	// search_default_file_with_ext: deeper !include directives are skipped
	// with a warning.
	maxIncludeDepth = 10
)

// DefaultServerVersion is the server version whose groups --mysqld stands
// for when the version of the server that runs us is not known.
const DefaultServerVersion = "10.11"

// mysqldGroups returns the groups mariadbd of version ("MAJOR.MINOR", as
// in MYSQL_BASE_VERSION) reads (mysqld_default_groups.h), which its
// my_print_defaults reads for --mysqld and --mariadbd. Checked against
// the real my_print_defaults of 10.11 and 11.8 (TestMysqldGroupsReal):
// 10.11 reads [mysqld-10.11], [mariadb-10.11] and [mariadbd-10.11]; 11.8
// reads [mysqld-11.8], [mariadb-11.8], [mariadb-11], [mariadbd-11.8] and
// [mariadbd-11], but neither [mysqld-11] nor any 10.x group. The
// major-only groups are assumed for every version from 11 on.
func mysqldGroups(version string) []string {
	if version == "" {
		version = DefaultServerVersion
	}
	g := []string{
		"mysqld", "server", "mysqld-" + version,
		"mariadb", "mariadb-" + version,
		"mariadbd", "mariadbd-" + version,
		"client-server", "galera",
	}
	major, _, _ := strings.Cut(version, ".")
	if n, err := strconv.Atoi(major); err == nil && n >= 11 {
		g = append(g, "mariadb-"+major, "mariadbd-"+major)
	}
	return g
}

// ReadOptionFiles reads the option files f selects. Missing files in the
// default search list are skipped, as mysqld does; a missing or unreadable
// DefaultsFile or ExtraFile, a bad !include, an include loop or a line
// over the size limit is an error wrapping ErrFile that names the file and
// line.
//
// Like my_print_defaults, world-writable files are ignored (see Warnings),
// and a syntax error inside a file reached through !include or !includedir
// only ends the reading of that file. Unlike my_print_defaults, which
// reads a looping file again up to ten levels deep, an include loop is an
// error, and so is a line longer than 4094 bytes, which my_print_defaults
// would split into several lines.
func ReadOptionFiles(f Files) (*OptionFiles, error) {
	return readOptionFilesContext(context.Background(), f)
}

// readOptionFilesContext is ReadOptionFiles that stops, with ctx's
// error, between two files once ctx is done.
func readOptionFilesContext(ctx context.Context, f Files) (*OptionFiles, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("read option files: %w: %w", ErrFile, err)
	}
	return readOptionFiles(f, optionEnv{ctx: ctx, fsys: os.DirFS("/"), open: openNonBlocking, getenv: os.Getenv, cwd: cwd})
}

// openNonBlocking opens an option file without blocking: O_NONBLOCK makes
// open(2) return at once on a FIFO with no writer, where a plain open
// waits for one for ever. It has no effect on reading a regular file,
// and anything else is refused by the caller before it is read.
func openNonBlocking(abs string) (fs.File, error) {
	return os.OpenFile(abs, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// optionEnv is what reading option files needs from the system: the file
// system (rooted at "/"), the environment and the working directory.
// ctx, when non-nil, is checked before each file; open, when non-nil,
// opens a file by its absolute path instead of fsys.
type optionEnv struct {
	ctx    context.Context
	fsys   fs.FS
	open   func(abs string) (fs.File, error)
	getenv func(string) string
	cwd    string
}

func readOptionFiles(f Files, env optionEnv) (*OptionFiles, error) {
	home := f.Home
	if home == "" {
		home = env.getenv("HOME")
	}
	suffix := f.GroupSuffix
	if suffix == "" {
		suffix = env.getenv("MYSQL_GROUP_SUFFIX")
	}
	r := &optReader{env: env, home: home}
	of := &OptionFiles{files: f, suffix: suffix}

	switch {
	case f.DefaultsFile != "":
		if err := r.readRequired(f.DefaultsFile); err != nil {
			return nil, err
		}
	default:
		search := f.Search
		if search == nil {
			search = defaultSearch(env.getenv)
		}
		extraDone := false
		for _, name := range search {
			if name == "" {
				if err := r.readExtra(f.ExtraFile); err != nil {
					return nil, err
				}
				extraDone = true
				continue
			}
			if err := r.readFile(name, 0, false, false); err != nil {
				return nil, err
			}
		}
		if !extraDone {
			if err := r.readExtra(f.ExtraFile); err != nil {
				return nil, err
			}
		}
	}
	of.options, of.read, of.warnings = r.options, r.read, r.warnings
	return of, nil
}

// defaultSearch mirrors init_default_directories in my_default.c on Unix:
// /etc/, /etc/mysql/, $MARIADB_HOME (or else $MYSQL_HOME), the
// --defaults-extra-file placeholder "" and ~/. A directory already in the
// list moves to the end (array_append_string_unique), so MYSQL_HOME=/etc
// reads /etc/mysql/my.cnf before /etc/my.cnf. Each directory gives
// "<dir>my.cnf", and "~/" gives "~/.my.cnf".
func defaultSearch(getenv func(string) string) []string {
	var dirs []string
	add := func(d string) {
		if d != "" {
			d = filepath.Clean(d)
			if d != "/" {
				d += "/"
			}
		}
		for i, e := range dirs {
			if e == d {
				dirs = append(dirs[:i], dirs[i+1:]...)
				break
			}
		}
		dirs = append(dirs, d)
	}
	add("/etc/")
	add("/etc/mysql/")
	if d := getenv("MARIADB_HOME"); d != "" {
		add(d)
	} else if d := getenv("MYSQL_HOME"); d != "" {
		add(d)
	}
	add("")
	add("~/")
	files := make([]string, len(dirs))
	for i, d := range dirs {
		switch {
		case d == "":
			files[i] = ""
		case d[0] == '~':
			files[i] = d + ".my.cnf"
		default:
			files[i] = d + "my.cnf"
		}
	}
	return files
}

// optReader accumulates what one ReadOptionFiles call reads.
type optReader struct {
	env      optionEnv
	home     string
	options  []Option
	read     []string
	warnings []string
	stack    []string // files being read, outermost first, for loop detection
}

// parseError is a syntax error that my_print_defaults treats as fatal for
// the file it is in; inside an included file it only ends that file.
type parseError struct{ err error }

func (e *parseError) Error() string { return e.err.Error() }
func (e *parseError) Unwrap() error { return e.err }

func (r *optReader) readRequired(name string) error {
	return r.readFile(name, 0, true, false)
}

// openError is the error for a required file that cannot be opened, worded
// as my_print_defaults words it; cause is the reason from the OS.
func openError(name string, cause error) error {
	var pe *fs.PathError
	if errors.As(cause, &pe) {
		cause = pe.Err // its path is relative to the fs.FS root
	}
	return fmt.Errorf("could not open required defaults file %s: %w: %w", name, ErrFile, cause)
}

func (r *optReader) readExtra(name string) error {
	if name == "" {
		return nil
	}
	return r.readRequired(name)
}

// resolve turns name into the absolute, cleaned path it stands for:
// "~/" expands to the home directory and relative names are taken from the
// working directory, as fn_expand and fn_format(MY_UNPACK_FILENAME) do.
func (r *optReader) resolve(name string) string {
	if r.home != "" && (name == "~" || strings.HasPrefix(name, "~/")) {
		name = filepath.Join(r.home, name[1:])
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(r.env.cwd, name)
	}
	return filepath.Clean(name)
}

// fsName maps an absolute path to its name in the "/"-rooted fs.FS.
func fsName(abs string) string {
	n := strings.TrimPrefix(abs, "/")
	if n == "" {
		return "."
	}
	return n
}

// readFile mirrors search_default_file_with_ext: it reads one file and the
// files it includes. For required files (DefaultsFile, ExtraFile) a
// missing or unreadable file is an error; other such files are skipped, as
// search_default_file_with_ext's return value 1 is ignored for them.
//
// Unlike mysys, which would wait for ever in fopen or fgets, a file that
// is neither a regular file nor a directory (a FIFO, a socket, a device
// other than /dev/null) is refused with an error naming it, or skipped
// with a warning when it is an entry of an !includedir (inDir). Errors
// returned wrap ErrFile, or the context's error once it is done.
func (r *optReader) readFile(name string, depth int, required, inDir bool) error {
	if ctx := r.env.ctx; ctx != nil && ctx.Err() != nil {
		return fmt.Errorf("read option files: %w", context.Cause(ctx))
	}
	abs := r.resolve(name)
	fi, err := fs.Stat(r.env.fsys, fsName(abs))
	if err != nil {
		if required {
			return openError(abs, err)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			r.warnings = append(r.warnings, fmt.Sprintf("skipping option file %s: %v", abs, err))
		}
		return nil
	}
	// search_default_file_with_ext: "Ignore world-writable regular files."
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o002 != 0 {
		r.warnings = append(r.warnings, fmt.Sprintf("World-writable config file '%s' is ignored", abs))
		return nil
	}
	for _, s := range r.stack {
		if s == abs {
			return fmt.Errorf("include loop: %s includes itself via %s: %w",
				abs, strings.Join(r.stack, " -> "), ErrFile)
		}
	}
	if fi.IsDir() {
		// fopen succeeds on a directory and fgets fails at once, so
		// my_print_defaults reads nothing from it.
		if required {
			return fmt.Errorf("read option file %s: is a directory: %w", abs, ErrFile)
		}
		return nil
	}
	if skip, err := r.checkRegular(abs, fi, inDir); skip {
		return err
	}
	var file fs.File
	if r.env.open != nil {
		file, err = r.env.open(abs)
	} else {
		file, err = r.env.fsys.Open(fsName(abs))
	}
	if err != nil {
		if required {
			return openError(abs, err)
		}
		r.warnings = append(r.warnings, fmt.Sprintf("skipping option file %s: %v", abs, err))
		return nil
	}
	defer file.Close()
	// The name may have been replaced since the Stat above.
	if fi, err = file.Stat(); err != nil {
		return fmt.Errorf("read option file %s: %w: %w", abs, ErrFile, err)
	}
	if skip, err := r.checkRegular(abs, fi, inDir); skip {
		return err
	}

	r.read = append(r.read, abs)
	r.stack = append(r.stack, abs)
	err = r.parse(abs, file, depth, required)
	r.stack = r.stack[:len(r.stack)-1]
	return err
}

// devNull is the one non-regular file read as an option file: an empty
// one, as in the common --defaults-file=/dev/null.
const devNull = "/dev/null"

// checkRegular refuses an option file that is not a regular file (see
// readFile): skip is true for such a file, with an error, or for an
// !includedir entry with a warning and a nil error.
func (r *optReader) checkRegular(abs string, fi fs.FileInfo, inDir bool) (skip bool, err error) {
	if fi.Mode().IsRegular() || abs == devNull {
		return false, nil
	}
	kind := "special file"
	switch m := fi.Mode(); {
	case m&fs.ModeNamedPipe != 0:
		kind = "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "socket"
	case m&fs.ModeCharDevice != 0:
		kind = "character device"
	case m&fs.ModeDevice != 0:
		kind = "block device"
	case m.IsDir():
		kind = "directory"
	}
	if inDir {
		r.warnings = append(r.warnings, fmt.Sprintf("skipping option file %s in an !includedir: it is a %s, not a regular file", abs, kind))
		return true, nil
	}
	return true, fmt.Errorf("option file %s is a %s, not a regular file; reading it could block for ever: replace it with a regular file: %w", abs, kind, ErrFile)
}

// parse reads the lines of one option file; name is its resolved path.
// It mirrors the loop of search_default_file_with_ext line by line.
func (r *optReader) parse(name string, src io.Reader, depth int, required bool) error {
	br := bufio.NewReaderSize(src, maxLine+2)
	group, foundGroup := "", false
	for lineNo := 1; ; lineNo++ {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(raw) > maxLine+1 ||
			(len(raw) == maxLine+1 && raw[maxLine] != '\n') {
			return fmt.Errorf("%s:%d: line longer than %d bytes: %w", name, lineNo, maxLine, ErrFile)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			if required {
				return fmt.Errorf("read %s:%d: %w: %w", name, lineNo, ErrFile, err)
			}
			r.warnings = append(r.warnings, fmt.Sprintf("read %s:%d: %v", name, lineNo, err))
			return nil
		}
		if len(raw) == 0 {
			return nil
		}
		// fgets keeps the newline only if it fits in the buffer, and
		// every string operation stops at the first NUL byte.
		line := string(raw)
		if len(raw) > maxLine {
			line = line[:maxLine]
		}
		if i := strings.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}

		perr := r.parseLine(name, lineNo, line, depth, &group, &foundGroup)
		if perr != nil {
			var pe *parseError
			if !errors.As(perr, &pe) || depth == 0 {
				return perr
			}
			// The return value of a nested search_default_file_with_ext
			// is ignored: the error ends this file only.
			r.warnings = append(r.warnings, perr.Error())
			return nil
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// parseLine handles one line as search_default_file_with_ext does; line
// is the fgets buffer up to its first NUL and may end in '\n'.
func (r *optReader) parseLine(name string, lineNo int, line string, depth int, group *string, foundGroup *bool) error {
	lead := 0
	for lead < len(line) && isSpace(line[lead]) {
		lead++
	}
	p := line[lead:]
	if p == "" || p[0] == '#' || p[0] == ';' {
		return nil
	}

	if p[0] == '!' {
		return r.directive(name, lineNo, p, depth)
	}

	if p[0] == '[' {
		*foundGroup = true
		end := strings.IndexByte(p[1:], ']')
		if end < 0 {
			return &parseError{fmt.Errorf("%s:%d: wrong group definition: %w", name, lineNo, ErrFile)}
		}
		end++ // index in p
		for isSpace(p[end-1]) {
			end--
		}
		*group = p[1:end]
		return nil
	}
	if !*foundGroup {
		return &parseError{fmt.Errorf("%s:%d: option without preceding group: %w", name, lineNo, ErrFile)}
	}

	p = removeEndComment(p)
	o := Option{Group: *group, File: name, Line: lineNo}
	eq := strings.IndexByte(p, '=')
	if eq < 0 {
		end := len(p)
		for isSpace(p[end-1]) {
			end--
		}
		o.raw = p[:end]
	} else {
		end := eq
		for end > 0 && isSpace(p[end-1]) {
			end--
		}
		o.raw = p[:end]
		if eq == 0 && lead > 0 {
			// The key is empty and my_default.c trims it backwards into
			// the leading blanks; strnmov then gets a negative length
			// and copies the whole (comment-stripped) line as the key.
			o.raw = p
		}
		o.Value, o.HasValue = unescapeValue(p[eq+1:]), true
	}
	o.Name = strings.TrimPrefix(strings.ReplaceAll(o.raw, "_", "-"), "loose-")
	r.options = append(r.options, o)
	return nil
}

// directive handles a line starting with '!' (p starts there).
func (r *optReader) directive(name string, lineNo int, p string, depth int) error {
	if depth >= maxIncludeDepth {
		r.warnings = append(r.warnings, fmt.Sprintf(
			"skipping '%s' directive as maximum include recursion level was reached in file %s at line %d",
			strings.TrimRight(p, " \t\n\v\f\r"), name, lineNo))
		return nil
	}
	p = p[1:]
	for p != "" && isSpace(p[0]) {
		p = p[1:]
	}
	kw := ""
	for _, k := range []string{"includedir", "include"} {
		if len(p) > len(k) && strings.HasPrefix(p, k) && isSpace(p[len(k)]) {
			kw = k
			break
		}
	}
	if kw == "" {
		return nil // unknown directives are ignored
	}
	arg, ok := directiveArgument(p, len(kw))
	if !ok {
		return &parseError{fmt.Errorf("%s:%d: wrong '!%s' directive: %w", name, lineNo, kw, ErrFile)}
	}
	if kw == "include" {
		// A missing or unreadable included file is silently ignored.
		return r.readFile(arg, depth+1, false, false)
	}

	dir := r.resolve(arg)
	entries, err := fs.ReadDir(r.env.fsys, fsName(dir))
	if err != nil {
		return &parseError{fmt.Errorf("%s:%d: read !includedir %s: %w: %w", name, lineNo, dir, ErrFile, err)}
	}
	// my_dir(MY_WANT_SORT) sorts by name with strcmp, as fs.ReadDir does;
	// only names ending in ".cnf" are read.
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".cnf") {
			continue
		}
		if err := r.readFile(path.Join(dir, e.Name()), depth+1, false, true); err != nil {
			return err
		}
	}
	return nil
}

// directiveArgument mirrors get_argument in my_default.c: skip the keyword
// (kwlen bytes of p) and blanks, then cut trailing blanks. Its trim starts
// one byte before the end to skip fgets' newline, so on a last line
// without a newline the final byte of the path is lost; that quirk is kept.
func directiveArgument(p string, kwlen int) (string, bool) {
	start := kwlen
	for start < len(p) && isSpace(p[start]) {
		start++
	}
	end := len(p) - 1
	for end > 0 && isSpace(p[end-1]) {
		end--
	}
	if end <= start {
		return "", false
	}
	return p[start:end], true
}

// removeEndComment mirrors remove_end_comment in my_default.c: the line
// ends at the first '#' outside '...' or "..." quotes; a backslash escapes
// a quote only inside quotes.
func removeEndComment(s string) string {
	var quote byte
	escape := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c == '\'' || c == '"') && !escape {
			switch quote {
			case 0:
				quote = c
			case c:
				quote = 0
			}
		}
		if quote == 0 && c == '#' {
			return s[:i]
		}
		escape = quote != 0 && c == '\\' && !escape
	}
	return s
}

// unescapeValue turns the text after '=' into the value as
// search_default_file_with_ext does: trim blanks, drop one pair of
// matching quotes around it, and replace \n \t \r \b \s \" \' \\; any
// other backslash, and one at the very end, is kept.
func unescapeValue(v string) string {
	start := 0
	for start < len(v) && isSpace(v[start]) {
		start++
	}
	end := len(v)
	for end > start && isSpace(v[end-1]) {
		end--
	}
	if end-start >= 2 && (v[start] == '"' || v[start] == '\'') && v[start] == v[end-1] {
		start++
		end--
	}
	var b strings.Builder
	b.Grow(end - start)
	for i := start; i < end; i++ {
		c := v[i]
		if c != '\\' || i == end-1 {
			b.WriteByte(c)
			continue
		}
		i++
		switch v[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 's':
			b.WriteByte(' ')
		case '"', '\'', '\\':
			b.WriteByte(v[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// isSpace is my_isspace(&my_charset_latin1, c): the ASCII blanks \t \n \v
// \f \r and space, plus the Latin-1 no-break space 0xA0.
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xA0
}

// foldLatin1 is my_toupper(&my_charset_latin1, c), which find_type uses to
// compare group names: ASCII letters and the Latin-1 letters 0xE0-0xFE
// (but not 0xF7, the division sign) fold to upper case.
func foldLatin1(c byte) byte {
	switch {
	case c >= 'a' && c <= 'z', c >= 0xE0 && c <= 0xFE && c != 0xF7:
		return c - 0x20
	}
	return c
}

// sameGroup reports whether two group names match as in find_type with
// FIND_TYPE_NO_PREFIX: whole names, Latin-1 case-insensitive.
func sameGroup(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldLatin1(a[i]) != foldLatin1(b[i]) {
			return false
		}
	}
	return true
}

// groupSet returns the groups my_print_defaults reads for the group
// arguments args: "--mysqld" and "--mariadbd" stand for mysqldGroups of
// the server version,
// other arguments starting with '-' (options it would reject or that
// print nothing) select nothing, and with a group suffix every group G
// also selects G<suffix>.
func (of *OptionFiles) groupSet(args []string) []string {
	var set []string
	for _, a := range args {
		switch {
		case a == "--mysqld" || a == "--mariadbd":
			set = append(set, mysqldGroups(of.files.ServerVersion)...)
		case strings.HasPrefix(a, "-"):
		default:
			set = append(set, a)
		}
	}
	if of.suffix != "" {
		n := len(set)
		for _, g := range set[:n] {
			set = append(set, g+of.suffix)
		}
	}
	return set
}

func (of *OptionFiles) selected(groups []string) []Option {
	set := of.groupSet(groups)
	var out []Option
	for _, o := range of.options {
		for _, g := range set {
			if sameGroup(o.Group, g) {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// Print returns what "my_print_defaults [--defaults-file=..]
// [--defaults-extra-file=..] [--defaults-group-suffix=..] groups..." would
// print, one element per option in read order: "--key=value", or "--key"
// for a bare key. Values are printed unescaped, so an element may contain
// a newline. A group "--mysqld" or "--mariadbd" stands for every group
// mariadbd reads.
func (of *OptionFiles) Print(groups ...string) []string {
	sel := of.selected(groups)
	out := make([]string, len(sel))
	for i, o := range sel {
		out[i] = o.printed()
	}
	return out
}

// Lookup mirrors the SST script's parse_cnf (wsrep_sst_common): groups is
// a '|'-separated list such as "sst|xtrabackup|mariabackup" or
// "--mysqld|sst"; for each group in turn (for "mysqld" with a group
// suffix, first "mysqld<suffix>" alone) it takes the last value of key in
// what my_print_defaults prints for that group, and the first non-empty
// one wins. The returned Option is the one that supplied the value, with
// Value whitespace-trimmed as parse_cnf prints it (which can leave it
// empty if it was only blanks). ok is false if no group gives a value.
func (of *OptionFiles) Lookup(groups, key string) (Option, bool) {
	var found Option
	ok := false
	of.eachGroup(groups, func(g string) bool {
		o, val := of.awkLast(g, key)
		if val == "" {
			return false
		}
		o.Value = strings.Trim(val, " \t\n\v\f\r")
		found, ok = o, true
		return true
	})
	return found, ok
}

// Has mirrors the SST script's in_config: whether key appears, with or
// without a value, in any of the '|'-separated groups (see Lookup).
func (of *OptionFiles) Has(groups, key string) bool {
	return of.eachGroup(groups, func(g string) bool {
		for _, rec := range of.records(g) {
			if _, match := awkMatch(rec.text, key); match {
				return true
			}
		}
		return false
	})
}

// Files returns the files actually read, in read order, includes
// included; missing and ignored files are not listed.
func (of *OptionFiles) Files() []string {
	return append([]string(nil), of.read...)
}

// Warnings returns what my_print_defaults would have reported on stderr
// without failing: ignored world-writable files, skipped include
// directives, and syntax errors that ended the reading of an included
// file.
func (of *OptionFiles) Warnings() []string {
	return append([]string(nil), of.warnings...)
}

// eachGroup splits groups as parse_cnf's loop does ("${groups%%\|*}") and
// calls try for each my_print_defaults group argument until it returns
// true; for "mysqld" with a --defaults-group-suffix it first tries
// "mysqld<suffix>" alone. The script only knows the suffix given on its
// command line, not $MYSQL_GROUP_SUFFIX.
func (of *OptionFiles) eachGroup(groups string, try func(group string) bool) bool {
	for groups != "" {
		g, rest, _ := strings.Cut(groups, "|")
		groups = rest
		if g == "mysqld" && of.files.GroupSuffix != "" && try("mysqld"+of.files.GroupSuffix) {
			return true
		}
		if try(g) {
			return true
		}
	}
	return false
}

// record is one line of my_print_defaults output as awk sees it, with the
// option it came from (a value with a newline gives several records).
type record struct {
	text string
	opt  Option
}

func (of *OptionFiles) records(group string) []record {
	var recs []record
	for _, o := range of.selected([]string{group}) {
		for _, line := range strings.Split(o.printed(), "\n") {
			recs = append(recs, record{text: line, opt: o})
		}
	}
	return recs
}

// awkLast mirrors parse_cnf's awk program over my_print_defaults' output
// for group: the value of the last record whose normalised name is key.
func (of *OptionFiles) awkLast(group, key string) (Option, string) {
	var last Option
	val := ""
	for _, rec := range of.records(group) {
		if v, match := awkMatch(rec.text, key); match {
			last, val = rec.opt, v
		}
	}
	return last, val
}

// awkMatch mirrors the awk in parse_cnf and in_config,
//
//	BEGIN {OFS=FS="="} {sub(/^--loose/,"-",$0); gsub(/_/,"-",$1);
//	 if ($1=="--key") lastval=substr($0,length($1)+2)}
//
// returning the value part of rec and whether its name is key.
func awkMatch(rec, key string) (string, bool) {
	if strings.HasPrefix(rec, "--loose") {
		rec = "-" + rec[len("--loose"):]
	}
	name, value, _ := strings.Cut(rec, "=")
	if strings.ReplaceAll(name, "_", "-") != "--"+key {
		return "", false
	}
	return value, true
}
