package openai

import (
	"bytes"
	"testing"
)

// TestArena: copies of any size stay as copied while the arena hands out
// more, and are capped (appending to one copies).
func TestArena(t *testing.T) {
	var a Arena
	var kept [][]byte
	var want [][]byte
	for i := range 500 {
		b := bytes.Repeat([]byte{byte(i)}, i*13%3000)
		kept, want = append(kept, a.Bytes(b)), append(want, bytes.Clone(b))
		for j := range b {
			b[j] = 0xff
		}
	}
	for i := range kept {
		if !bytes.Equal(kept[i], want[i]) || cap(kept[i]) != len(kept[i]) {
			t.Fatalf("copy %d changed or not capped", i)
		}
	}
	if a.String(nil) != "" || a.String([]byte("ab")) != "ab" {
		t.Fatal("String")
	}
	var s Slab[[4]int]
	var ps []*[4]int
	for i := range 50 {
		p := s.New()
		if *p != [4]int{} {
			t.Fatal("not zero")
		}
		p[0] = i
		ps = append(ps, p)
	}
	for i, p := range ps {
		if p[0] != i {
			t.Fatalf("value %d changed", i)
		}
	}
}
