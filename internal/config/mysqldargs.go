package config

import "strings"

// mysqldArgs mirrors the --mysqld-args branch: it consumes every remaining
// argument, extracts the paths and binlog names the SST needs, drops the
// options mariadb-backup must not see, and rebuilds the rest as
// WSREP_SST_OPT_MYSQLD, each word in single quotes (original_cmd). The
// words that string stands for are collected alongside, without the
// --wsrep-sst-auth options and their values.
func (l *argLoop) mysqldArgs(args []string) {
	var c cmdLine // original_cmd
	cmdTail := false
	dropValue := false // the previous word was a bare --wsrep-sst-auth
	for len(args) > 0 {
		a := args[0]
		mark := len(c.words)
		// my_getopt takes the next word as the value of an option that
		// requires one, whatever it looks like: it must not reach
		// mariadb-backup either.
		dropNow := dropValue
		dropValue = false
		lname := strings.TrimPrefix(a, "--")
		if lname == "" {
			// "--" ends the options. An empty word also lands here,
			// since ${1#--} of "" is "".
			args = args[1:]
			if len(args) > 0 {
				c.raw(" --", "--")
				c.quoteTail(args)
			}
			if dropNow && len(c.words) > mark {
				c.words = append(c.words[:mark], c.words[mark+1:]...)
			}
			break
		}
		if lname == a {
			options := strings.TrimPrefix(a, "-")
			// [ "$options" != "$1" -a -n "$options" ] is a test(1)
			// syntax error, hence false, for the words "-!" and "-(".
			if options != a && options != "" && options != "!" && options != "(" {
				var slist string
				var words []string
				slist, words, args = l.shortOptions(options, args, &cmdTail)
				if slist != "" {
					c.raw(" -"+slist, words...)
				}
			} else if options == "" {
				c.raw(" -", "-")
			} else {
				// A positional argument or the value of a previous
				// option: copied as is.
				c.quote(a)
			}
			args = args[1:]
			if cmdTail {
				c.quoteTail(args)
			}
			if dropNow {
				// The value word, and whatever its cluster took.
				c.words = c.words[:mark]
			}
			if cmdTail {
				break
			}
			continue
		}
		keep, auth, hasValue := l.longOption(a)
		if keep {
			c.quote(a)
			if auth {
				c.words = c.words[:mark]
				dropValue = !hasValue
			}
		}
		if dropNow {
			c.words = c.words[:mark]
		}
		args = args[1:]
	}
	l.mysqld.assign(strings.TrimPrefix(c.line.String(), " ")) // ${original_cmd# *}
	l.mysqldWords = c.words
}

// cmdLine is a command line the script builds as a string, with the words
// sh would split it into.
type cmdLine struct {
	line  strings.Builder
	words []string
}

// quote appends " 'w'", the word w.
func (c *cmdLine) quote(w string) {
	c.line.WriteString(" '" + w + "'")
	c.words = append(c.words, w)
}

// quoteTail quotes the words after "--". mysqld would refuse them, but
// should one be a --wsrep-sst-auth option it is still kept out of the
// words, with its value word when it has no "=".
func (c *cmdLine) quoteTail(ws []string) {
	drop := false
	for _, w := range ws {
		c.line.WriteString(" '" + w + "'")
		switch {
		case drop:
			drop = false
		case isAuthOption(w):
			drop = !strings.Contains(w, "=")
		default:
			c.words = append(c.words, w)
		}
	}
}

// isAuthOption reports whether w is a --wsrep-sst-auth option, spelt with
// dashes or underscores, with or without --loose- and a value.
func isAuthOption(w string) bool {
	name, _, _ := strings.Cut(w, "=")
	name = strings.ReplaceAll(name, "_", "-")
	if rest, ok := strings.CutPrefix(name, "--loose-"); ok {
		name = "--" + rest
	}
	return name == "--wsrep-sst-auth"
}

// raw appends text to the line and words to the words.
func (c *cmdLine) raw(text string, words ...string) {
	c.line.WriteString(text)
	c.words = append(c.words, words...)
}

// shortOptions mirrors the loop over a cluster of short options such as
// "-vh/data". args[0] is the word being parsed; the returned args start at
// the last word consumed (the option's value, if it was a separate word).
// -h sets the datadir, -u and -P are dropped with their values, ? a s v
// take no value, and anything else keeps its value, re-quoted. It returns
// slist (the text after " -" in original_cmd) and the words of " -slist".
func (l *argLoop) shortOptions(options string, args []string, cmdTail *bool) (string, []string, []string) {
	slist := ""
	for options != "" {
		option, value := options[:1], options[1:]
		// [ "$option" != '?' -a ... ] is also false for "!" and "(",
		// which test(1) reads as operators.
		if strings.Contains("?asv!(", option) {
			slist += option
			options = value
			continue
		}
		if value == "" && len(args) > 1 {
			if next := args[1]; !strings.HasPrefix(next, "-") {
				args = args[1:]
				value = args[0]
			} else if next == "--" {
				args = args[1:]
				if len(args) > 1 {
					*cmdTail = true
					args = args[1:]
					value = args[0]
				}
			}
		}
		if option == "h" {
			if l.data.val == "" {
				l.optDatadir.assign(trimDir(value))
			}
		} else if option != "u" && option != "P" {
			// The script appends " --" to the option itself.
			opt, tail := option, []string(nil)
			if *cmdTail {
				opt, tail = option+" --", []string{"--"}
			}
			var words []string
			switch {
			case value == "":
				words = append([]string{"-" + slist + option}, tail...)
				slist += opt
			case slist == "":
				words = append(append([]string{"-" + option}, tail...), value)
				slist = opt + " '" + value + "'"
			default:
				words = append(append([]string{"-" + slist, "-" + option}, tail...), value)
				slist += " -" + opt + " '" + value + "'"
			}
			return slist, words, args
		}
		var words []string
		if slist != "" {
			words = []string{"-" + slist}
		}
		if *cmdTail {
			if slist != "" {
				slist += " --"
			} else {
				slist = "-"
			}
			words = append(words, "--")
		}
		return slist, words, args
	}
	return slist, []string{"-" + slist}, args
}

// longOption mirrors the handling of one "--name[=value]" word inside
// --mysqld-args. keep reports whether the word is kept in original_cmd,
// auth whether it is a --wsrep-sst-auth option (which mysqld spells with
// dashes or underscores and an optional --loose- prefix), and hasValue
// whether it carries its value after "=".
func (l *argLoop) longOption(a string) (keep, auth, hasValue bool) {
	option, value, hasValue := strings.Cut(a, "=")
	if !hasValue {
		value = ""
	}
	if strings.Contains(option, "_") {
		option = echo(strings.ReplaceAll(option, "_", "-")) // to_minuses
	}
	if rest, ok := strings.CutPrefix(option, "--loose-"); ok {
		option = "--" + rest
	}
	return l.longOptionValue(option, value), option == "--wsrep-sst-auth", hasValue
}

// longOptionValue is the case statement of longOption on the normalized
// option name.
func (l *argLoop) longOptionValue(option, value string) bool {
	switch option {
	case "--defaults-file", "--defaults-extra-file", "--defaults-group-suffix",
		"--user", "--port", "--socket":
		return false
	case "--innodb-force-recovery":
		// [ -n "$value" -a "$value" != "0" ], including its test(1)
		// misparse of operator-like values.
		if testNonEmpty(value) && value != "(" && value != "!" && value != "0" {
			l.forceRecovery.assign(trimString(value))
		}
		return false
	}
	// The branches that read
	// `if [ -z "$ARIA_LOG_DIR" ]; then MYSQLD_OPT_ARIA_LOG_DIR=$(trim_dir "$value"); fi`:
	// a value found in --mysqld-args counts only when the explicit
	// option was absent.
	for _, f := range [...]struct {
		option        string
		explicit, opt *shVar
		trim          func(string) string
	}{
		{"--aria-log-dir-path", &l.ariaLogDir, &l.optAriaLogDir, trimDir},
		{"--innodb-data-home-dir", &l.innodbDataHome, &l.optInnodbDataHome, trimDir},
		{"--innodb-log-group-home-dir", &l.innodbLogGroup, &l.optInnodbLogGroup, trimDir},
		{"--innodb-undo-directory", &l.innodbUndo, &l.optInnodbUndo, trimDir},
		{"--innodb-buffer-pool-filename", &l.bufferPool, &l.optBufferPool, trimString},
		{"--innodb-buffer-pool-size", &l.bufferPoolSize, &l.optBufferPoolSize, trimString},
		{"--log-bin", &l.binlog, &l.optLogBin, trimString},
		{"--log-bin-index", &l.binlogIndex, &l.optLogBinIndex, trimString},
		{"--log-basename", &l.logBasename, &l.optLogBasename, trimString},
		{"--datadir", &l.data, &l.optDatadir, trimDir},
		{"--sst-temp-dir", &l.sstTmpDir, &l.optSSTTmpDir, trimDir},
	} {
		if f.option == option {
			if f.explicit.val == "" {
				f.opt.assign(f.trim(value))
			}
			return false
		}
	}
	return true
}
