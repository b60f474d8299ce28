package openai

import (
	"encoding/json"
	"strconv"
	"strings"
	"unsafe"

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
	return knownMembers(o, names, f, nil, false)
}

// MembersWithExtra is KnownMembers for a type that keeps the members it
// does not model (DecodeWithExtra): those are put in *extra, copied, the
// map made at the first (it stays nil without any). A known member whose
// value is null is passed to f too: json.Unmarshal leaves most fields
// zero for null, but fills a json.RawMessage with it (RawMember does).
func MembersWithExtra(o gjson.Result, names []string, f func(i int, v gjson.Result) bool, extra *map[string]json.RawMessage) bool {
	return knownMembers(o, names, f, extra, true)
}

func knownMembers(o gjson.Result, names []string, f func(i int, v gjson.Result) bool, extra *map[string]json.RawMessage, nulls bool) bool {
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
			if ok && extra != nil {
				if *extra == nil {
					*extra = map[string]json.RawMessage{}
				}
				(*extra)[strings.Clone(k.Str)] = RawMember(v)
			}
		case seen&(1<<i) != 0 || v.Type == gjson.Null && !nulls:
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
	s, ok := plainString(v)
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

// OwnString reads a JSON string into *dst as json.Unmarshal does, as a
// copy (v may refer to a buffer that is reused); false for any other
// value.
func OwnString(v gjson.Result, dst *string) bool {
	if v.Type != gjson.String {
		return false
	}
	s, ok := Unquote(v.Raw)
	if ok && len(s) > 0 && unsafe.StringData(s) == unsafe.StringData(v.Raw[1:]) { // no escape: a substring of v.Raw
		s = strings.Clone(s)
	}
	*dst = s
	return ok
}

// OwnStringPtr is OwnString for a *string member.
func OwnStringPtr(v gjson.Result, dst **string) bool {
	var s string
	*dst = &s
	return OwnString(v, &s)
}

// RawMember is a copy of v's JSON text, as json.Unmarshal fills a
// json.RawMessage.
func RawMember(v gjson.Result) json.RawMessage {
	return json.RawMessage(append([]byte(nil), v.Raw...))
}

// BoolMember reads true or false into *dst; false for any other value.
func BoolMember(v gjson.Result, dst *bool) bool {
	*dst = v.Type == gjson.True
	return v.Type == gjson.True || v.Type == gjson.False
}

// BoolPtrMember is BoolMember for a *bool member.
func BoolPtrMember(v gjson.Result, dst **bool) bool {
	var b bool
	*dst = &b
	return BoolMember(v, &b)
}

// FloatMember reads a number into a *float64 member as json.Unmarshal
// does; false for anything else (another type, out of range).
func FloatMember(v gjson.Result, dst **float64) bool {
	if v.Type != gjson.Number {
		return false
	}
	f, err := strconv.ParseFloat(v.Raw, 64)
	*dst = &f
	return err == nil
}

// UnmarshalMember decodes one member's value into dst with
// json.Unmarshal, which reads a member alone as it reads it in its
// object: for members too rare or varied to read by hand.
func UnmarshalMember[T any](v gjson.Result, dst *T) bool {
	return json.Unmarshal([]byte(v.Raw), dst) == nil
}

// ArrayMember reads the array v into *dst, each element by elem, into a
// new slice (an empty one for [], as json.Unmarshal makes); false, with
// *dst untouched, for anything else or when elem fails.
func ArrayMember[T any](v gjson.Result, dst *[]T, elem func(gjson.Result, *T) bool) bool {
	if !v.IsArray() {
		return false
	}
	out := make([]T, 0, 4)
	ok := true
	v.ForEach(func(_, e gjson.Result) bool {
		out = append(out, *new(T))
		ok = elem(e, &out[len(out)-1])
		return ok
	})
	if ok {
		*dst = out
	}
	return ok
}
