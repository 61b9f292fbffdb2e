package config

import (
	"errors"
	"slices"
	"testing"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  --a=1   --b ", []string{"--a=1", "--b"}},
		{"--innodb-data-home-dir='/var/lib/my sql' --log-bin='x'", []string{"--innodb-data-home-dir=/var/lib/my sql", "--log-bin=x"}},
		{`"--a=b \"c\" \$d" e\ f`, []string{`--a=b "c" $d`, "e f"}},
		{`''`, []string{""}},
		{"a\\\nb \\\n c", []string{"ab", "c"}},
		{"\"a\\\nb\" c\\", []string{"ab", `c\`}},
		{`"a\x"`, []string{`a\x`}},
	}
	for _, tt := range tests {
		got, err := splitWords("test", tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"'open", `"open`, `a "b\"`} {
		if got, err := splitWords("test", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("splitWords(%q) = %q, %v; want ErrInvalid", bad, got, err)
		}
	}
}
