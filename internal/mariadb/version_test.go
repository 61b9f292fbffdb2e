package mariadb

import "testing"

func TestFindVersion(t *testing.T) {
	for _, tt := range []struct {
		name, out string
		want      Version
		ok        bool
	}{
		{"mariadb-backup", "mariadb-backup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)", Version{10, 11, 19}, true},
		{"mariadbd", "/usr/sbin/mariadbd  Ver 11.8.9-MariaDB-0+deb13u1 from Debian for debian-linux-gnu on x86_64", Version{11, 8, 9}, true},
		{"mariabackup 10.6", "mariabackup based on MariaDB server 10.6.21-MariaDB debian-linux-gnu (x86_64)", Version{10, 6, 21}, true},
		{"second line", "warning: something\nmariadbd  Ver 10.5.27-MariaDB-log for Linux", Version{10, 5, 27}, true},
		{"first of two", "Ver 10.11.19-MariaDB, built with 10.6.1-MariaDB", Version{10, 11, 19}, true},
		{"empty", "", Version{}, false},
		{"no version", "no version here", Version{}, false},
		{"not MariaDB", "mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)", Version{}, false},
		{"no patch", "mariadbd  Ver 10.11-MariaDB", Version{}, false},
		{"inside a number", "Ver x10.11.19-MariaDB", Version{}, false},
		{"too large", "Ver 10.11.123456-MariaDB", Version{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FindVersion(tt.out)
			if got != tt.want || ok != tt.ok {
				t.Errorf("FindVersion(%q) = %v, %v; want %v, %v", tt.out, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want Version
		ok   bool
	}{
		{"10.6.21", Version{10, 6, 21}, true},
		{"10.6", Version{10, 6, -1}, true},
		{"11.8.3-MariaDB-log", Version{11, 8, 3}, true},
		{"10.11.19-MariaDB-0+deb12u1", Version{10, 11, 19}, true},
		{"9999.0.0", Version{9999, 0, 0}, true},
		{"", Version{}, false},
		{"10", Version{}, false},
		{"ten", Version{}, false},
		{"10.x.1", Version{}, false},
		{"v10.6", Version{}, false},
		{"10.6.21.4", Version{}, false},
		{"99999.1", Version{}, false},
		{"10.6.99999", Version{}, false},
		{" 10.6", Version{}, false},
	} {
		t.Run(tt.s, func(t *testing.T) {
			got, ok := ParseVersion(tt.s)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseVersion(%q) = %v, %v; want %v, %v", tt.s, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestVersionStrings(t *testing.T) {
	v := Version{10, 11, 19}
	if got, want := v.String(), "10.11.19"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := v.Series(), "10.11"; got != want {
		t.Errorf("Series() = %q, want %q", got, want)
	}
}
