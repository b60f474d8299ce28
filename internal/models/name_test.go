package models

import "testing"

// Names that would read as other names (bidi controls, C1 controls,
// separators, invalid UTF-8) are no model ids; other scripts are.
func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{"gpt-4o": true, "模型-é": true, "claude-opus-5-5@2026": true, "\u202eevil": false, "a\u009bb": false,
		"a\u2028b": false, "a\u00a0b": false, "bad\xff": false, "a b": false, "": false} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v", name, got)
		}
	}
}
