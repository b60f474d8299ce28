package keys

import (
	"context"
	"net/http"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/redistest"
)

func benchAdmit(b *testing.B, o Options) { benchAdmitTeam(b, o, nil) }

// benchAdmitTeam is benchAdmit for a key of a team with p's limits (nil:
// no team).
func benchAdmitTeam(b *testing.B, o Options, team *TeamParams) {
	s := NewStore(openStore(b, sqlitePath(b)))
	p := Params{Name: ptr("bench"), Models: &[]string{"openai/*"}, RPM: ptr[int64](1 << 40), MaxParallel: ptr[int64](1 << 20)}
	if team != nil {
		createTeam(b, s, *team)
		p.Team = &team.Name
	}
	_, secret := create(b, s, p)
	o.Store = s
	a := newAdmitter(b, o)
	h := http.Header{"Authorization": {"Bearer " + secret}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := llmbridge.Request{Format: "chat", Model: "openai/gpt-4o", Header: h}
		t, err := a.Admit(ctx, &r)
		if err != nil {
			b.Fatal(err)
		}
		if len(t.(llmbridge.HeaderTicket).Header()) != 3 { // the bridge asks for them on every request
			b.Fatal("no x-ratelimit-* headers")
		}
		t.Settle(llmbridge.UsageRecord{TotalTokens: 10})
	}
}

// BenchmarkAdmitInProcess is what a limited key adds to a request in one
// instance: lookup, model check, reserve and settle.
func BenchmarkAdmitInProcess(b *testing.B) { benchAdmit(b, Options{}) }

// BenchmarkAdmitRedis is the same with the limits in a real Redis over
// loopback (one script round trip; settle is queued).
func BenchmarkAdmitRedis(b *testing.B) {
	srv := redistest.Start(b)
	benchAdmit(b, Options{Redis: redisClient(b, srv)})
}

// BenchmarkAdmitTeamInProcess is a key of a team with limits of its
// own: both reserved together under both locks.
func BenchmarkAdmitTeamInProcess(b *testing.B) {
	benchAdmitTeam(b, Options{}, &TeamParams{Name: "bench", Limits: Limits{RPM: 1 << 40, MaxParallel: 1 << 20}})
}

// BenchmarkAdmitTeamRedis is the same in Redis: still one script run.
func BenchmarkAdmitTeamRedis(b *testing.B) {
	srv := redistest.Start(b)
	benchAdmitTeam(b, Options{Redis: redisClient(b, srv)}, &TeamParams{Name: "bench", Limits: Limits{RPM: 1 << 40, MaxParallel: 1 << 20}})
}
