package config

// Secret holds a password. Its String and MarshalText methods never reveal
// the value, so a Secret printed by mistake shows "***" (or "" when empty).
type Secret string

// Reveal returns the password itself; call it only where the value is
// handed to a child process environment.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

// MarshalText implements encoding.TextMarshaler without revealing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
