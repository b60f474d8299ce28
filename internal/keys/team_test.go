package keys

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/pgtest"
	"github.com/llmbridge/llmbridge/internal/redistest"
	"github.com/llmbridge/llmbridge/internal/usage"
	"github.com/redis/go-redis/v9"
)

func createTeam(t testing.TB, s *Store, p TeamParams) *Team {
	t.Helper()
	tm, err := s.CreateTeam(context.Background(), &p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// The team store on SQLite and a real PostgreSQL: names unique whatever
// their case, found by id or name, replaced whole, keys joining by name
// or id and listed by owner or team, and a team with live keys kept.
func TestTeamStore(t *testing.T) {
	for name, dsn := range map[string]func(t testing.TB) string{"sqlite": sqlitePath, "postgres": pgtest.URL} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := NewStore(openStore(t, dsn(t)))
			research := createTeam(t, s, TeamParams{Name: "Research", Models: []string{"openai/*"}, Limits: Limits{RPM: 60, DailyBudgetUSD: 5}})
			if !ValidTeamID(research.ID) || research.RPM != 60 || research.Models[0] != "openai/*" {
				t.Fatalf("created %+v", research)
			}
			if _, err := s.CreateTeam(ctx, &TeamParams{Name: "research"}, time.Now()); !errors.Is(err, ErrTeamExists) {
				t.Fatalf("a second team named research (any case): %v", err)
			}
			for _, ref := range []string{research.ID, "research", "RESEARCH"} {
				if got, err := s.Team(ctx, ref); err != nil || got.ID != research.ID {
					t.Fatalf("Team(%q) = %+v, %v", ref, got, err)
				}
			}
			if _, err := s.Team(ctx, "nobody"); !errors.Is(err, ErrTeamNotFound) {
				t.Fatalf("unknown team: %v", err)
			}
			ops := createTeam(t, s, TeamParams{Name: "ops"})
			if _, err := s.ReplaceTeam(ctx, ops.ID, &TeamParams{Name: "Research"}, time.Now()); !errors.Is(err, ErrTeamExists) {
				t.Fatalf("renaming ops to Research: %v", err)
			}
			got, err := s.ReplaceTeam(ctx, research.ID, &TeamParams{Name: "research-2", Limits: Limits{TPM: 1000}}, time.Now())
			if err != nil || got.Name != "research-2" || got.RPM != 0 || got.TPM != 1000 || len(got.Models) != 0 || !got.CreatedAt.Equal(research.CreatedAt) {
				t.Fatalf("replaced: %+v %v", got, err)
			}

			alice, _ := create(t, s, Params{Name: ptr("a"), Owner: ptr("alice@example.com"), Team: ptr("RESEARCH-2")})
			bob, _ := create(t, s, Params{Name: ptr("b"), Owner: ptr("bob@example.com"), Team: ptr(ops.ID)})
			create(t, s, Params{Name: ptr("c"), Owner: ptr("alice@example.com")})
			if alice.TeamID != research.ID || alice.Team != "research-2" || bob.Team != "ops" {
				t.Fatalf("keys' teams: %+v %+v", alice, bob)
			}
			if _, _, err := s.Create(ctx, &Params{Name: ptr("x"), Team: ptr("no-such-team")}, time.Now()); !isField(err, "team") {
				t.Fatalf("an unknown team: %v", err)
			}
			mine, err := s.ListWhere(ctx, Filter{Owner: "alice@example.com"})
			if err != nil || len(mine) != 2 || mine[0].ID != alice.ID && mine[1].ID != alice.ID {
				t.Fatalf("alice's keys: %+v %v", mine, err)
			}
			if l, _ := s.ListWhere(ctx, Filter{Owner: "ALICE@example.com"}); len(l) != 0 {
				t.Fatalf("owner matched in another case: %+v", l)
			}
			if l, _ := s.ListWhere(ctx, Filter{TeamID: ops.ID}); len(l) != 1 || l[0].ID != bob.ID {
				t.Fatalf("ops' keys: %+v", l)
			}
			var inUse *TeamInUseError
			if err := s.DeleteTeam(ctx, ops.ID); !errors.As(err, &inUse) || inUse.Keys != 1 {
				t.Fatalf("deleting a team with a live key: %v", err)
			}
			if _, err := s.Update(ctx, bob.ID, &Params{Team: ptr("")}, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteTeam(ctx, ops.ID); err != nil {
				t.Fatalf("deleting an empty team: %v", err)
			}
			if err := s.DeleteTeam(ctx, ops.ID); !errors.Is(err, ErrTeamNotFound) {
				t.Fatalf("deleting twice: %v", err)
			}
			// A revoked key does not hold its team; it keeps the team's id.
			if _, err := s.Revoke(ctx, alice.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteTeam(ctx, research.ID); err != nil {
				t.Fatalf("deleting a team whose only key is revoked: %v", err)
			}
			if k, _ := s.Get(ctx, alice.ID); k.TeamID != research.ID || k.Team != "" {
				t.Fatalf("the revoked key after its team went: %+v", k)
			}
			if l, _ := s.Teams(ctx); len(l) != 0 {
				t.Fatalf("teams left: %+v", l)
			}
		})
	}
}

func isField(err error, field string) bool {
	var fe *FieldError
	return errors.As(err, &fe) && fe.Field == field
}

// Team and key bodies are strict: a member in another case, twice,
// unknown or of the wrong type, a name that is not a plain name (SQL,
// markup, a team id) and values out of bounds are refused, naming the
// member.
func TestParseTeamParamsStrict(t *testing.T) {
	for _, tc := range []struct{ body, field, want string }{
		{`{"Name":"a"}`, "Name", `did you mean "name"`},
		{`{"name":"a","RPM":1}`, "RPM", `did you mean "rpm"`},
		{`{"name":"a","name":"b"}`, "name", "twice"},
		{`{"name":"a","team":"x"}`, "team", "unknown field"},
		{`{"name":"a","rpm":"1"}`, "rpm", "want int64"},
		{`{"name":"a"} {}`, "body", "one JSON object"},
		{`[]`, "body", "one JSON object"},
		{`{"name":"x'; DROP TABLE teams;--"}`, "name", "letters, digits"},
		{`{"name":"<script>"}`, "name", "letters, digits"},
		{`{"name":" padded"}`, "name", "letters, digits"},
		{`{"name":"tm_0123456789abcdef"}`, "name", "team id"},
		{`{"name":"` + strings.Repeat("a", 65) + `"}`, "name", "1 to 64"},
		{`{}`, "name", "letters, digits"},
		{`{"name":"a","rpm":-1}`, "rpm", "positive"},
		{`{"name":"a","daily_budget_usd":1e300}`, "daily_budget_usd", "USD"},
		{`{"name":"a","models":["` + strings.Repeat("x,", 0) + `"]}`, "models[0]", "characters"},
	} {
		_, err := ParseTeamParams([]byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Message, tc.want) {
			t.Errorf("%s: %v, want field %s saying %q", tc.body, err, tc.field, tc.want)
		}
	}
	many := `{"name":"a","models":[` + strings.Repeat(`"m",`, 100) + `"m"]}`
	if _, err := ParseTeamParams([]byte(many)); !isField(err, "models") {
		t.Errorf("101 patterns: %v", err)
	}
	p, err := ParseTeamParams([]byte(`{"name":"Data Science","models":["openai/*"],"rpm":5,"monthly_budget_usd":100}`))
	if err != nil || p.Name != "Data Science" || p.RPM != 5 || p.MonthlyBudgetUSD != 100 {
		t.Fatalf("a good body: %+v %v", p, err)
	}
	for _, body := range []string{`{"Team":"x"}`, `{"name":"a","name":"b"}`} {
		if _, err := ParseParams([]byte(body)); err == nil {
			t.Errorf("key body %s accepted", body)
		}
	}
}

// A pair reservation refused by either side reserves nothing on the
// other: the key's and the team's counts afterwards are exactly the
// admitted requests (in process).
func TestPairReservationRefusalReservesNothing(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name   string
		kl, tl Limits
		refuse string // who refuses the second request
	}{
		{"team refuses requests", Limits{RPM: 10}, Limits{RPM: 1}, "team"},
		{"key refuses requests", Limits{RPM: 1}, Limits{RPM: 10}, "key"},
		{"team refuses in flight", Limits{MaxParallel: 10}, Limits{MaxParallel: 1}, "team"},
		{"key refuses in flight", Limits{MaxParallel: 1}, Limits{MaxParallel: 10}, "key"},
		{"team refuses tokens", Limits{TPM: 1000}, Limits{TPM: 150}, "team"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocal()
			kd, td := l.reservePair("vk_k", tc.kl, "tm_t", tc.tl, 100, now)
			if !kd.ok || !td.ok {
				t.Fatalf("first: %+v %+v", kd, td)
			}
			kd2, td2 := l.reservePair("vk_k", tc.kl, "tm_t", tc.tl, 100, now)
			refused, other := td2, kd2
			if tc.refuse == "key" {
				refused, other = kd2, td2
			}
			if kd2.ok || td2.ok || refused.reason == "" || other.reason != "" {
				t.Fatalf("second: key %+v team %+v", kd2, td2)
			}
			for _, c := range []struct {
				id string
				s  *slot
			}{{"vk_k", l.slot("vk_k")}, {"tm_t", l.slot("tm_t")}} {
				reqs, _ := c.s.req.count(now.Unix(), now)
				toks, _ := c.s.tok.count(now.Unix(), now)
				if c.s.inflight != 1 || reqs != 1 || toks != 100 {
					t.Errorf("%s after a refusal: %d in flight, %d requests, %d tokens; want 1, 1, 100", c.id, c.s.inflight, reqs, toks)
				}
			}
		})
	}
}

// Two keys of one team, each with room for 100, share the team's 50
// requests a minute exactly (in process), and the refusals name the team.
func TestTeamLimitExactInProcess(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	createTeam(t, s, TeamParams{Name: "research", Limits: Limits{RPM: 50}})
	_, k1 := create(t, s, Params{Name: ptr("a"), Team: ptr("research"), RPM: ptr[int64](100)})
	_, k2 := create(t, s, Params{Name: ptr("b"), Team: ptr("research")})
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	var ok, team atomic.Int64
	var wg sync.WaitGroup
	for i := range 300 {
		secret := k1
		if i%2 == 1 {
			secret = k2
		}
		wg.Go(func() {
			rec := h.post(secret, chatBody)
			switch {
			case rec.Code == 200:
				ok.Add(1)
			case rec.Code == 429 && strings.Contains(rec.Body.String(), "on team research") && rec.Header().Get("Retry-After") != "":
				team.Add(1)
			default:
				t.Errorf("%d %v %s", rec.Code, rec.Header(), rec.Body)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 || team.Load() != 250 {
		t.Fatalf("admitted %d, refused by the team %d; want 50 and 250", ok.Load(), team.Load())
	}
}

// A team's budget is spent by all its keys together; its models restrict
// its keys' models; the headers show whichever limit is tighter.
func TestTeamBudgetModelsAndHeaders(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	createTeam(t, s, TeamParams{Name: "ops", Models: []string{"openai/gpt-4o"}, Limits: Limits{RPM: 5, DailyBudgetUSD: 0.00004}})
	_, k1 := create(t, s, Params{Name: ptr("a"), Team: ptr("ops"), RPM: ptr[int64](100)})
	_, k2 := create(t, s, Params{Name: ptr("b"), Team: ptr("ops"), Models: &[]string{"openai/*"}})
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	rec := h.post(k2, `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}`)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "team ops may not use the model") {
		t.Fatalf("a model the team does not allow: %d %s", rec.Code, rec.Body)
	}
	rec = h.post(k1, chatBody)
	if rec.Code != 200 || rec.Header().Get("X-Ratelimit-Limit-Requests") != "5" || rec.Header().Get("X-Ratelimit-Remaining-Requests") != "4" {
		t.Fatalf("first request: %d %v", rec.Code, rec.Header())
	}
	rec = h.post(k2, chatBody)
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), "budget_exceeded") || !strings.Contains(rec.Body.String(), "of team ops is spent") ||
		rec.Header().Get("Retry-After") == "" {
		t.Fatalf("the other key after the team's budget is spent: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

// Team spend is restored from the usage store at start, and usage
// records carry the key's team and owner (Attribution).
func TestTeamSpendRestoredAndAttributed(t *testing.T) {
	u := openStore(t, sqlitePath(t))
	s := NewStore(u)
	tm := createTeam(t, s, TeamParams{Name: "research", Limits: Limits{DailyBudgetUSD: 1}})
	k, secret := create(t, s, Params{Name: ptr("a"), Owner: ptr("alice@example.com"), Team: ptr("research")})
	_, other := create(t, s, Params{Name: ptr("b")})
	now := time.Now()
	rec := llmbridge.UsageRecord{ID: llmbridge.NewRecordID(now), Time: now, KeyID: "vk_0000000000000000", Provider: "openai", UpstreamModel: "gpt-4o",
		Status: 200, PromptTokens: 400_000, TotalTokens: 400_000}
	row := usage.RowOf(rec, usage.DefaultPrices())
	row.TeamID = tm.ID // another key's request, made while it was in the team
	if _, err := u.Insert(context.Background(), []usage.Row{row}); err != nil {
		t.Fatal(err)
	}
	a := newAdmitter(t, Options{Store: s})
	h := newHarness(t, a)
	if rec := h.post(secret, chatBody); rec.Code != 429 || !strings.Contains(rec.Body.String(), "team research") {
		t.Fatalf("with the team's $1 spent: %d %s", rec.Code, rec.Body)
	}
	if rec := h.post(other, chatBody); rec.Code != 200 {
		t.Fatalf("a key outside the team: %d %s", rec.Code, rec.Body)
	}
	if team, user := a.Attribution(k.ID); team != tm.ID || user != "alice@example.com" {
		t.Fatalf("Attribution = %q, %q", team, user)
	}
	if team, user := a.Attribution("vk_ffffffffffffffff"); team != "" || user != "" {
		t.Fatalf("Attribution of an unknown key = %q, %q", team, user)
	}
	budgets, err := a.Budgets(context.Background())
	if err != nil || len(budgets) != 1 || budgets[0].Name != "team research (daily)" || budgets[0].SpentUSD < 1 {
		t.Fatalf("budgets: %+v %v", budgets, err)
	}
}

// A key whose team is gone from the store is refused (403), never let
// through without the team's limits.
func TestKeyOfMissingTeamRefused(t *testing.T) {
	u := openStore(t, sqlitePath(t))
	s := NewStore(u)
	createTeam(t, s, TeamParams{Name: "gone", Limits: Limits{RPM: 1}})
	k, secret := create(t, s, Params{Name: ptr("a"), Team: ptr("gone")})
	if _, err := u.DB().Exec(`DELETE FROM teams`); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	if rec := h.post(secret, chatBody); rec.Code != 403 || !strings.Contains(rec.Body.String(), "team_not_found") {
		t.Fatalf("%s: %d %s", k.ID, rec.Code, rec.Body)
	}
}

// Two replicas sharing a real Redis hold one team's limit between them,
// and a refusal by either side reserves nothing on the other: the key's
// and the team's request windows in Redis count exactly the admitted
// requests.
func TestTeamSharedThroughRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := NewStore(openStore(t, sqlitePath(t)))
	tm := createTeam(t, s, TeamParams{Name: "research", Limits: Limits{RPM: 60}})
	k1, s1 := create(t, s, Params{Name: ptr("a"), Team: ptr("research"), RPM: ptr[int64](1000)})
	k2, s2 := create(t, s, Params{Name: ptr("b"), Team: ptr("research"), RPM: ptr[int64](20)})
	rdb := redisClient(t, srv)
	a1 := newAdmitter(t, Options{Store: s, Redis: redisClient(t, srv), Replicas: 2})
	a2 := newAdmitter(t, Options{Store: s, Redis: redisClient(t, srv), Replicas: 2})
	h1, h2 := newHarness(t, a1), newHarness(t, a2)
	var ok1, ok2, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 400 {
		h, secret, ok := h1, s1, &ok1
		if i%2 == 1 {
			h = h2
		}
		if i%4 >= 2 {
			secret, ok = s2, &ok2
		}
		wg.Go(func() {
			rec := h.post(secret, chatBody)
			switch {
			case rec.Code == 200:
				ok.Add(1)
			case rec.Code == 429:
				refused.Add(1)
			default:
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	total := ok1.Load() + ok2.Load()
	t.Logf("admitted %d (key a %d, key b %d), refused %d", total, ok1.Load(), ok2.Load(), refused.Load())
	if total < 60 || total > 63 || ok2.Load() > 20 {
		t.Fatalf("admitted %d against the team's 60 (key b %d against its 20)", total, ok2.Load())
	}
	for _, a := range []*Admitter{a1, a2} {
		if sh := a.backend.(*shared); sh.busy.Load() > 0 || sh.down.Load() {
			// A request Redis was too slow for was admitted by the
			// per-instance limits and is not counted in Redis.
			t.Skipf("Redis was too slow for some requests (%d); the counts in Redis cannot be compared", sh.busy.Load())
		}
	}
	if total != 60 {
		t.Fatalf("admitted %d with every request decided in Redis, want exactly 60", total)
	}
	count := func(id string) int64 { // the window's buckets, which its running sum must equal
		all, err := rdb.HGetAll(context.Background(), "llmbridge:{"+id+"}:rw").Result()
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for f, v := range all {
			if f != "sum" && f != "lo" {
				x, _ := strconv.ParseInt(v, 10, 64)
				n += x
			}
		}
		if all["sum"] != strconv.FormatInt(n, 10) {
			t.Errorf("%s: window sum %q, its buckets %d", id, all["sum"], n)
		}
		return n
	}
	if c1, c2, ct := count(k1.ID), count(k2.ID), count(tm.ID); c1 != ok1.Load() || c2 != ok2.Load() || ct != total {
		t.Fatalf("counted in Redis: key a %d (admitted %d), key b %d (admitted %d), team %d (admitted %d)", c1, ok1.Load(), c2, ok2.Load(), ct, total)
	}
}

// A key joining a team while the team is deleted: one of the two wins,
// never both — no live key is left in a team that is gone (the version
// row, updated first, orders the two transactions on PostgreSQL too).
func TestTeamDeleteRacesKeyJoin(t *testing.T) {
	for name, dsn := range map[string]func(t testing.TB) string{"sqlite": sqlitePath, "postgres": pgtest.URL} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			u := openStore(t, dsn(t))
			s := NewStore(u)
			for i := range 20 {
				tm := createTeam(t, s, TeamParams{Name: "race-" + string(rune('a'+i))})
				var wg sync.WaitGroup
				var keyErr, delErr error
				wg.Go(func() { _, _, keyErr = s.Create(ctx, &Params{Name: ptr("k"), Team: ptr(tm.ID)}, time.Now()) })
				wg.Go(func() { delErr = s.DeleteTeam(ctx, tm.ID) })
				wg.Wait()
				var inUse *TeamInUseError
				switch {
				case keyErr == nil && errors.As(delErr, &inUse), isField(keyErr, "team") && delErr == nil:
				default:
					t.Fatalf("round %d: key %v, delete %v", i, keyErr, delErr)
				}
			}
			var orphans int
			if err := u.DB().QueryRow(`SELECT COUNT(*) FROM virtual_keys k WHERE k.team_id <> '' AND k.revoked_at IS NULL
AND NOT EXISTS (SELECT 1 FROM teams t WHERE t.id = k.team_id)`).Scan(&orphans); err != nil || orphans != 0 {
				t.Fatalf("%d live keys in teams that are gone (%v)", orphans, err)
			}
		})
	}
}

// A team's budget spent through one replica, by one of its keys, refuses
// the team's other key on the other replica, through Redis.
func TestTeamBudgetSharedThroughRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := NewStore(openStore(t, sqlitePath(t)))
	createTeam(t, s, TeamParams{Name: "ops", Limits: Limits{DailyBudgetUSD: 0.00004}})
	_, k1 := create(t, s, Params{Name: ptr("a"), Team: ptr("ops")})
	_, k2 := create(t, s, Params{Name: ptr("b"), Team: ptr("ops"), RPM: ptr[int64](100)})
	h1 := newHarness(t, newAdmitter(t, Options{Store: s, Redis: redisClient(t, srv)}))
	h2 := newHarness(t, newAdmitter(t, Options{Store: s, Redis: redisClient(t, srv)}))
	if rec := h1.post(k1, chatBody); rec.Code != 200 {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rec := h2.post(k2, chatBody)
		if rec.Code == 429 && strings.Contains(rec.Body.String(), "of team ops is spent") {
			return
		}
		if rec.Code != 200 || time.Now().After(deadline) {
			t.Fatalf("the other key on the other replica: %d %s", rec.Code, rec.Body)
		}
	}
}

// admitOneScript (a key alone) and admitScript (any number of subjects)
// decide one subject alike: the same admissions, refusals and remaining
// counts, call after call.
func TestAdmitScriptsAgree(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redisClient(t, srv)
	ctx := context.Background()
	for _, lim := range []Limits{{RPM: 3}, {TPM: 250}, {MaxParallel: 2}, {RPM: 4, TPM: 1000, MaxParallel: 3}} {
		var got [2][]string
		for i, script := range []*redis.Script{admitOneScript, admitScript} {
			p := fmt.Sprintf("agree:%d:%v:", i, lim)
			keys := []string{p + "r", p + "t", p + "p", p + "sd", p + "sm"}
			for range 5 {
				res, err := script.Run(ctx, rdb, keys, 60000, "lease-"+p, lim.RPM, lim.TPM, 100, lim.MaxParallel, "0", "0").Slice()
				if err != nil {
					t.Fatal(err)
				}
				got[i] = append(got[i], fmt.Sprint(res[0], res[1], res[2], res[5], res[7]))
			}
		}
		if strings.Join(got[0], " ") != strings.Join(got[1], " ") {
			t.Errorf("%+v: one %v, any %v", lim, got[0], got[1])
		}
	}
}
