package openai

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// checkedShape is a type whose field set reaches every case of check:
// nested structs, arrays and maps of structs, raw members.
type checkedShape struct {
	Name  string                      `json:"name"`
	Inner *struct{ Kind string }      `json:"inner"`
	List  []struct{ ID, Text string } `json:"list"`
	Map   map[string]struct{ V int }  `json:"map"`
	Raw   json.RawMessage             `json:"raw"`
}

var checkSeeds = []string{
	`{"name":"a","Name":"b"}`, `{"NAME":"a"}`, `{"inner":{"kind":"x"}}`, `{"inner":{"KIND":"x"}}`,
	`{"list":[{"id":"1"},{"Text":"t","ID":"2"}]}`, `{"list":[{"iD":"1"}]}`, `{"map":{"k":{"v":1},"j":{"V":2}}}`,
	`{"raw":{"Name":1}}`, `{"na\u006de":"x"}`, `{"inner":{"k\u0131nd":"x"}}`, `{"ſ":1}`, `[{"Name":1}]`, `"x"`,
	`{"model":"m","messages":[{"role":"user","Content":"x"}]}`, `{"Model":"m","messages":[]}`,
}

// checkValue, the member check on a tape, finds what check finds on
// gjson's reading, or leaves it to check (a name with an escape).
func FuzzCheckValue(f *testing.F) {
	for _, s := range checkSeeds {
		f.Add([]byte(s))
	}
	sets := []*FieldSet{JSONFields[checkedShape](), chatRequestFields, JSONFields[[]checkedShape]()}
	f.Fuzz(func(t *testing.T, data []byte) {
		tp, ok := scanTape(data)
		defer putTape(tp)
		if !ok || len(tp.toks) == 0 {
			return
		}
		for _, s := range sets {
			got, checked := s.checkValue(tp.root())
			if !checked {
				continue
			}
			want := s.check(view(data))
			if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
				t.Fatalf("%s: on the tape %v, with gjson %v", data, got, want)
			}
		}
	})
}

func TestCheckValueIsCheck(t *testing.T) {
	faults := 0
	for _, s := range checkSeeds {
		tp, ok := scanTape([]byte(s))
		if !ok {
			t.Fatalf("%s is not JSON", s)
		}
		for _, set := range []*FieldSet{JSONFields[checkedShape](), chatRequestFields, JSONFields[[]checkedShape]()} {
			got, checked := set.checkValue(tp.root())
			want := set.check(view([]byte(s)))
			if !checked {
				continue
			}
			if got != nil {
				faults++
			}
			if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
				t.Fatalf("%s: on the tape %v, with gjson %v", s, got, want)
			}
		}
		putTape(tp)
	}
	if faults < 5 {
		t.Fatalf("%d faults found: the seeds reach too little", faults)
	}
}

// DecodeExactFast decides as DecodeExact wherever its reader does not
// take the body: JSON that is not valid, a body of more values than a
// tape holds, a case variant (also behind an escape), a reader that
// gives up; with valid set, on a json.RawMessage.
func TestDecodeExactFastIsDecodeExact(t *testing.T) {
	many := append(bytes.Repeat([]byte("0,"), maxTapeValues), '0')
	many = append(append([]byte(`{"name":"a","list":[`), many...), "]}"...)
	for _, c := range []struct {
		name  string
		data  []byte
		valid bool
	}{
		{"not JSON", []byte(`{"name":`), false},
		{"empty", nil, false},
		{"case variant", []byte(`{"name":"a","Name":"b"}`), false},
		{"escaped case variant", []byte(`{"N\u0061me":"b"}`), false},
		{"nested case variant", []byte(`{"inner":{"KIND":"x"}}`), true},
		{"type error", []byte(`{"name":1}`), true},
		{"too many values", many, false},
		{"good", []byte(`{"name":"a","list":[{"ID":"1"}]}`), true},
	} {
		var slow checkedShape
		werr := DecodeExact(c.data, &slow, JSONFields[checkedShape]())
		for _, reads := range []bool{false, true} {
			var fast checkedShape
			gerr := DecodeExactFast(c.data, &fast, JSONFields[checkedShape](), c.valid, func(root Value) bool {
				return reads && root.Unmarshal(&fast)
			})
			if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() || !reflect.DeepEqual(fast, slow) {
				t.Errorf("%s (reader reads %v): %v %+v, DecodeExact %v %+v", c.name, reads, gerr, fast, werr, slow)
			}
		}
	}
}
