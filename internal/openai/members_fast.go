package openai

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// KnownMembers calls f for each member of o whose name is one of names
// (with its index in names), for the hand-written decoders that must read
// what json.Unmarshal would into a struct whose JSON names are names. It
// reports false — the caller then leaves the value to encoding/json —
// when f does, when such a name comes twice (encoding/json merges
// objects), when its value is null (encoding/json's null rules differ per
// type) or when another member's name equals one of names under case
// folding (encoding/json would bind it). Other members are skipped, as
// encoding/json skips them. names has at most 64 entries.
func KnownMembers(o gjson.Result, names []string, f func(i int, v gjson.Result) bool) bool {
	if len(names) > 64 { // seen has a bit a name
		return false
	}
	var seen uint64
	ok := true
	o.ForEach(func(k, v gjson.Result) bool {
		i := -1
		for j, n := range names {
			if n == k.Str {
				i = j
				break
			}
		}
		switch {
		case i < 0:
			for _, n := range names {
				if strings.EqualFold(n, k.Str) {
					ok = false
				}
			}
		case seen&(1<<i) != 0 || v.Type == gjson.Null:
			ok = false
		default:
			seen |= 1 << i
			ok = f(i, v)
		}
		return ok
	})
	return ok
}

// StringMember reads v into *dst as encoding/json reads a JSON string
// into a string (Unquote); false for any other value.
func StringMember(v gjson.Result, dst *string) bool {
	if v.Type != gjson.String {
		*dst = ""
		return false
	}
	s, ok := Unquote(v.Raw)
	*dst = s
	return ok
}

// IntMember reads v into *dst when it is an integer that fits an int, as
// encoding/json would; false for anything else (a fraction, an exponent,
// another type).
func IntMember(v gjson.Result, dst *int) bool {
	if v.Type != gjson.Number {
		return false
	}
	n, err := strconv.Atoi(v.Raw)
	*dst = n
	return err == nil
}
