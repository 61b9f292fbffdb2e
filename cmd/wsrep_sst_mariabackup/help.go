package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"wsrep_sst_mariabackup/internal/fail"

	"github.com/spf13/pflag"
)

// docDir is where the Debian package (scripts/deb.sh) installs README.md.
const docDir = "/usr/share/doc/wsrep-sst-mariabackup-go"

// subcommand describes one human-facing subcommand for help, the man page
// and its own --help.
type subcommand struct {
	name     string
	synopsis string // arguments after the name
	summary  string // one line for the overview
	detail   string // paragraph for its --help and the man page
}

var subcommands = []subcommand{
	checkCommand,
	{
		name:     "explain",
		synopsis: "<argv as mysqld passes it>",
		summary:  "print the resolved configuration as JSON (secrets redacted)",
		detail: "Parses the argv and the option files exactly as an SST run would and prints the result as JSON: " +
			"every setting with where its value came from. Nothing is started; passwords are redacted.\n" +
			"Example: wsrep_sst_mariabackup explain --role joiner --address 10.0.0.2 --datadir /var/lib/mysql/",
	},
	manualReceive, manualSend,
	{
		name:     "version",
		synopsis: "",
		summary:  "print the version",
		detail:   "Prints \"wsrep_sst_mariabackup <version>\" and exits 0. --version does the same.",
	},
	{
		name:     "help",
		synopsis: "[--man] [subcommand]",
		summary:  "print this overview, or a subcommand's help",
		detail:   "Prints the overview, or the help of one subcommand. With --man, prints the manual page in roff (man(7)) format.",
	},
}

const overview = `Galera state snapshot transfer (SST) with mariadb-backup: a drop-in
replacement for MariaDB's wsrep_sst_mariabackup script.`

const mysqldRuns = `mysqld runs it itself, as wsrep_sst_<method> for wsrep_sst_method=mariabackup,
with the stock argv on both nodes, e.g.
  joiner: wsrep_sst_mariabackup --role 'joiner' --address '10.0.0.2' --datadir '/var/lib/mysql/' --parent 1234 --progress 0
  donor:  wsrep_sst_mariabackup --role 'donor' --address '10.0.0.2:4444/xtrabackup_sst//1' --socket '/run/mysqld/mysqld.sock' --datadir '/var/lib/mysql/' --gtid '<uuid>:<seqno>' --gtid-domain-id 0
It reads the [sst], [mariabackup], [xtrabackup] and [mysqld] groups of the option files like the
script. Its protocol lines go to stdout (read by mysqld), its log to stderr (the error log).`

func docsText() string {
	return "Documentation: " + docDir + "/README.md (packaged) or README.md in the source tree;\n" +
		"man wsrep_sst_mariabackup."
}

// usageText is the overview printed by help, --help, -h and a bare run.
func usageText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wsrep_sst_mariabackup: %s\n\n", overview)
	fmt.Fprintf(&b, "Usage:\n  wsrep_sst_mariabackup --role joiner|donor ... (run by mysqld)\n  wsrep_sst_mariabackup <subcommand> [options]\n\n")
	fmt.Fprintf(&b, "%s\n\nSubcommands:\n", mysqldRuns)
	for _, s := range subcommands {
		fmt.Fprintf(&b, "  %-9s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(&b, "Each subcommand takes --help.\n\n%s\n", docsText())
	return b.String()
}

func findSubcommand(name string) (subcommand, bool) {
	for _, s := range subcommands {
		if s.name == name {
			return s, true
		}
	}
	return subcommand{}, false
}

func subcommandUsage(s subcommand, fs *pflag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: wsrep_sst_mariabackup %s", s.name)
	if s.synopsis != "" {
		fmt.Fprintf(&b, " %s", s.synopsis)
	}
	fmt.Fprintf(&b, "\n\n%s\n", s.summary)
	fmt.Fprintf(&b, "%s\n", s.detail)
	if fs != nil && fs.HasFlags() {
		// Not fs.FlagUsages: pflag 1.1 prints booleans as --help[=true|false].
		fmt.Fprintf(&b, "\nOptions:\n")
		fs.VisitAll(func(f *pflag.Flag) {
			name := "    --" + f.Name
			if f.Shorthand != "" {
				name = "-" + f.Shorthand + ", --" + f.Name
			}
			fmt.Fprintf(&b, "  %-20s %s\n", name, f.Usage)
		})
	}
	return b.String()
}

// human handles what a person types: a bare run, --help, -h, --version,
// and the human subcommands. It returns done=false for the runs that take
// mysqld's argv (cmd "sst", and "explain" with anything but a lone --help),
// which keep the parity parser of internal/config. mysqld always passes
// --role, so none of its argv lines is taken here.
func human(cmd string, args []string, stdout io.Writer, log *slog.Logger) (done bool, err error) {
	lone := func(opts ...string) bool {
		if len(args) != 1 {
			return false
		}
		for _, o := range opts {
			if args[0] == o {
				return true
			}
		}
		return false
	}
	switch cmd {
	case "sst":
		switch {
		case len(args) == 0 || lone("--help", "-h"):
			fmt.Fprint(stdout, usageText())
			return true, nil
		case lone("--version"):
			fmt.Fprintf(stdout, "wsrep_sst_mariabackup %s\n", version)
			return true, nil
		}
		return false, nil
	case "explain":
		if lone("--help", "-h") {
			s, _ := findSubcommand("explain")
			fmt.Fprint(stdout, subcommandUsage(s, nil))
			return true, nil
		}
		return false, nil
	case "version":
		s, _ := findSubcommand("version")
		fs := newFlagSet(s)
		if done, err := parseHuman(s, fs, args, stdout, log); done {
			return true, err
		}
		fmt.Fprintf(stdout, "wsrep_sst_mariabackup %s\n", version)
		return true, nil
	case "help":
		s, _ := findSubcommand("help")
		fs := newFlagSet(s)
		man := fs.Bool("man", false, "print the manual page (roff) instead")
		if done, err := parseHuman(s, fs, args, stdout, log); done {
			return true, err
		}
		switch {
		case fs.NArg() > 1:
			return true, usageError(log, "help: at most one subcommand: run 'wsrep_sst_mariabackup help' for the list")
		case *man:
			fmt.Fprint(stdout, manPage())
		case fs.NArg() == 1:
			t, ok := findSubcommand(fs.Arg(0))
			if !ok {
				return true, usageError(log, fmt.Sprintf("help: unknown subcommand %q: run 'wsrep_sst_mariabackup help' for the list", fs.Arg(0)))
			}
			fmt.Fprint(stdout, subcommandUsage(t, nil))
		default:
			fmt.Fprint(stdout, usageText())
		}
		return true, nil
	}
	return true, usageError(log, fmt.Sprintf("unknown subcommand %q: run with the argv mysqld passes (--role ...), or use check, explain, version or help (see 'wsrep_sst_mariabackup --help')", cmd))
}

// newFlagSet returns a fresh GNU-style flag set for a human subcommand,
// with -h/--help.
func newFlagSet(s subcommand) *pflag.FlagSet {
	fs := pflag.NewFlagSet(s.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are logged in the WSREP_SST shape
	fs.BoolP("help", "h", false, "show this help")
	return fs
}

// parseHuman parses args into fs; it reports done when the caller must
// return: --help (a nil error) or a bad option (fail.Invalid, logged).
func parseHuman(s subcommand, fs *pflag.FlagSet, args []string, stdout io.Writer, log *slog.Logger) (done bool, err error) {
	perr := fs.Parse(args)
	if perr == nil && mustBool(fs, "help") {
		fmt.Fprint(stdout, subcommandUsage(s, fs))
		return true, nil
	}
	if perr != nil {
		return true, usageError(log, fmt.Sprintf("%s: %v: run 'wsrep_sst_mariabackup %s --help'", s.name, perr, s.name))
	}
	if s.synopsis == "" && fs.NArg() > 0 {
		return true, usageError(log, fmt.Sprintf("%s takes no arguments, got %q: run 'wsrep_sst_mariabackup %s --help'", s.name, fs.Arg(0), s.name))
	}
	return false, nil
}

func mustBool(fs *pflag.FlagSet, name string) bool {
	v, err := fs.GetBool(name)
	return err == nil && v
}

// manPage renders the help as a man(7) page, for the Debian package.
func manPage() string {
	var b strings.Builder
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `\`, `\e`)
		s = strings.ReplaceAll(s, "-", `\-`)
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
				l = `\&` + l
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
	fmt.Fprintf(&b, ".TH WSREP_SST_MARIABACKUP 1 \"\" \"wsrep_sst_mariabackup %s\" \"User Commands\"\n", esc(version))
	fmt.Fprintf(&b, ".SH NAME\nwsrep_sst_mariabackup \\- Galera state snapshot transfer with mariadb\\-backup\n")
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B wsrep_sst_mariabackup\n\\-\\-role joiner|donor ...\n.br\n.B wsrep_sst_mariabackup\n.I subcommand\n[options]\n")
	fmt.Fprintf(&b, ".SH DESCRIPTION\n%s\n.PP\n.nf\n%s\n.fi\n", esc(strings.ReplaceAll(overview, "\n", " ")), esc(mysqldRuns))
	fmt.Fprintf(&b, ".PP\nWith no arguments, \\-\\-help or \\-h it prints its help; with \\-\\-version its version.\n")
	fmt.Fprintf(&b, ".SH SUBCOMMANDS\n")
	for _, s := range subcommands {
		fmt.Fprintf(&b, ".TP\n.B %s", esc(s.name))
		if s.synopsis != "" {
			fmt.Fprintf(&b, " %s", esc(s.synopsis))
		}
		fmt.Fprintf(&b, "\n%s.\n.br\n%s\n", esc(s.summary), strings.ReplaceAll(esc(s.detail), "\n", "\n.br\n"))
	}
	fmt.Fprintf(&b, ".SH FILES\n.TP\n%s/README.md\noptions, exit codes and differences from the script\n", esc(docDir))
	fmt.Fprintf(&b, ".SH SEE ALSO\n.BR mariadb\\-backup (1),\n.BR mariadbd (8)\n")
	return b.String()
}

// usageError logs msg, a person's mistake on the command line, and
// returns it as fail.Invalid.
func usageError(log *slog.Logger, msg string) error {
	log.Error(msg)
	return fail.Errorf(fail.Invalid, "%s", msg)
}
