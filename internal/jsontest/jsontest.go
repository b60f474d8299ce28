// Package jsontest holds the hand-written JSON readers' tests to
// encoding/json: whatever the input, a reader must give what
// json.Unmarshal gives.
package jsontest

import (
	"encoding/json"
	"reflect"
	"testing"
)

// SameAsUnmarshal fails t unless decode, called name in the message,
// fills a zero T from data as json.Unmarshal does: both refuse it with
// the same error text, or both fill values that are reflect.DeepEqual
// (unexported fields included).
func SameAsUnmarshal[T any](t testing.TB, name string, data []byte, decode func([]byte, *T) error) {
	t.Helper()
	var got, want T
	err, werr := decode(data, &got), json.Unmarshal(data, &want)
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("%q: %s error %v, json.Unmarshal's %v", data, name, err, werr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n%s      %#v\njson.Unmarshal %#v", data, name, got, want)
	}
}
