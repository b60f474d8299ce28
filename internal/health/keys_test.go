package health

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func ring(n int) (*Ring, []*Key) {
	keys := make([]*Key, n)
	for i := range keys {
		keys[i] = NewKey("p", string(rune('a'+i)))
	}
	return NewRing(keys), keys
}

// Each request starts one key further; a single key never rotates.
func TestRingRotates(t *testing.T) {
	r, _ := ring(3)
	var got [][]int
	for range 4 {
		got = append(got, r.Order(nil, t0))
	}
	want := [][]int{{1, 2, 0}, {2, 0, 1}, {0, 1, 2}, {1, 2, 0}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("request %d: %v, want %v", i, got[i], want[i])
		}
	}
	one, _ := ring(1)
	for range 3 {
		if got := one.Order([]int{7}, t0); !slices.Equal(got, []int{7, 0}) {
			t.Fatalf("one key: %v", got)
		}
	}
}

// Refused and cooling keys are skipped while another is usable; when none
// is, all are tried in rotation; a cooled key comes back.
func TestRingSkipsRestingKeys(t *testing.T) {
	r, keys := ring(3)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	keys[0].TakeOut(log, 401)
	keys[0].TakeOut(log, 403)
	keys[1].CoolDown(t0, 10*time.Second)
	keys[1].CoolDown(t0, time.Second) // a shorter rest keeps the longer one
	if got := r.Order(nil, t0.Add(5*time.Second)); !slices.Equal(got, []int{2}) {
		t.Errorf("usable keys %v, want [2]", got)
	}
	keys[2].CoolDown(t0, 10*time.Second)
	if got := r.Order(nil, t0.Add(5*time.Second)); len(got) != 3 {
		t.Errorf("none usable: %v, want all three", got)
	}
	if got := r.Order(nil, t0.Add(10*time.Second)); len(got) != 2 || slices.Contains(got, 0) {
		t.Errorf("after the cooldown: %v, want keys 1 and 2", got)
	}
	if n := strings.Count(buf.String(), "provider key refused"); n != 1 || !strings.Contains(buf.String(), "status=401") || !strings.Contains(buf.String(), "key=a") {
		t.Errorf("take-out logged %d times:\n%s", n, buf.String())
	}
	if st, _ := keys[0].state(t0.Add(time.Hour)); st != "refused" {
		t.Errorf("a refused key is %q an hour later", st)
	}
	if len(r.Keys()) != 3 || r.Keys()[1] != keys[1] || keys[1].ID() != "b" {
		t.Error("Keys or ID")
	}
}

// One Turn per request, however many times the request meets the ring:
// ordering twice from the same turn neither rotates nor repeats a start
// across requests, and refused or cooling keys are still skipped.
func TestRingTurnOncePerRequest(t *testing.T) {
	r, keys := ring(2)
	starts := map[int]int{}
	for range 10 {
		s := r.Turn()
		a, b := r.OrderFrom(nil, s, t0), r.OrderFrom(nil, s, t0)
		if !slices.Equal(a, b) || a[0] != s {
			t.Fatalf("turn %d: %v then %v", s, a, b)
		}
		starts[s]++
	}
	if starts[0] != 5 || starts[1] != 5 {
		t.Errorf("starts %v, want 5 each", starts)
	}
	keys[0].CoolDown(t0, time.Second)
	if got := r.OrderFrom(nil, 0, t0); !slices.Equal(got, []int{1}) {
		t.Errorf("a cooling key offered: %v", got)
	}
	one, _ := ring(1)
	for i := range 2 {
		if got := one.Turn(); got != 0 {
			t.Errorf("turn %d of a single key: %d", i, got)
		}
	}
	if one.next.Load() != 0 {
		t.Error("a single key rotates")
	}
}
