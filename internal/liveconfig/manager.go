package liveconfig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/usage"
	"github.com/redis/go-redis/v9"
)

// Options configure a Manager.
type Options struct {
	// Store is the usage store the items are kept in (required).
	Store *usage.Store
	// Sealer seals the providers' keys (required).
	Sealer *Sealer
	// Check validates a candidate layer together with the environment and
	// the file, with the code and messages of start-up, keeping nothing.
	Check func(*configfile.Layer) error
	// Apply validates the layer as Check does and, when it passes, swaps
	// the running configuration for the one it makes, all at once. On an
	// error the running configuration must stay as it was.
	Apply func(*configfile.Layer) error
	// Base is what the environment and the file define (read-only here).
	Base func() Base
	// Bridge is the Bridge in force, for the providers' Test.
	Bridge func() *llmbridge.Bridge
	// AdminKey returns the admin key in force (LLMBRIDGE_ADMIN_KEY, or the
	// first run's), so the audit log names the admin key only for a
	// request that carries it (Manager.Actor); nil cannot tell.
	AdminKey func() string
	// Identify, when set, names who sent an admin request for the audit
	// log (the admin API's admin.API.Identify: the signed-in person);
	// Actor falls back to AdminKey's rule without it.
	Identify func(*http.Request) (admin.Principal, bool)
	// Redis, when set, carries change messages between replicas on the
	// channel <RedisPrefix>config; polling (Poll) catches what it misses.
	Redis       *redis.Client
	RedisPrefix string // default "llmbridge:"
	// Poll is how often the store's version is checked (default 1s).
	Poll time.Duration
	// Logger receives refused configurations; nil: slog.Default().
	Logger *slog.Logger
	// Now replaces time.Now in tests.
	Now func() time.Time
}

// Manager keeps the stored configuration: it validates and writes
// changes, applies them on this replica before the change returns, and
// follows the other replicas' changes (Redis messages, else polling the
// version). Safe for concurrent use.
type Manager struct {
	o    Options
	st   *store
	node string // this replica's id: the payload of its change messages

	edit  sync.Mutex // one change at a time on this replica
	apply sync.Mutex // one refresh at a time
	cur   atomic.Pointer[configfile.Layer]
	ver   atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
}

// Invalid is a change refused by validation; the message is start-up's.
type Invalid struct{ Err error }

// Error implements error.
func (e *Invalid) Error() string { return e.Err.Error() }

// Unwrap returns the validation error.
func (e *Invalid) Unwrap() error { return e.Err }

// New returns the manager of o.Store and reads the stored layer (Layer),
// without applying it: the server builds its first configuration with
// it. An error reading it (a key that does not open) leaves the layer
// empty; the error says why.
func New(ctx context.Context, o Options) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.RedisPrefix == "" {
		o.RedisPrefix = "llmbridge:"
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	m := &Manager{o: o, st: &store{u: o.Store, seal: o.Sealer}, node: hex.EncodeToString(b[:]), stop: make(chan struct{})}
	m.cur.Store(&configfile.Layer{})
	if o.Store.Postgres() && o.Sealer.env == "" {
		o.Logger.Warn("LLMBRIDGE_SECRET_KEY is not set: provider keys stored through the admin UI are sealed with " + o.Sealer.path +
			", which other replicas sharing this database do not have; set the same LLMBRIDGE_SECRET_KEY on every replica")
	}
	l, v, err := m.read(ctx)
	if err != nil {
		return m, err
	}
	m.cur.Store(l)
	m.ver.Store(v)
	return m, nil
}

// Layer is the stored configuration in force (never nil).
func (m *Manager) Layer() *configfile.Layer { return m.cur.Load() }

// read reads the stored layer and its version.
func (m *Manager) read(ctx context.Context) (*configfile.Layer, int64, error) {
	rows, v, err := m.st.rows(ctx)
	if err != nil {
		return nil, 0, err
	}
	l, err := layerOf(rows)
	return l, v, err
}

// Change edits the stored configuration: edit changes a copy of the
// stored layer (its error is returned as it is); the result is
// validated with the environment and the file (an *Invalid error when it
// fails, and nothing is written), the changed items are written in one
// transaction, and the new configuration is in force on this replica
// before Change returns. The other replicas are told.
func (m *Manager) Change(ctx context.Context, edit func(*configfile.Layer) error) error {
	m.edit.Lock()
	defer m.edit.Unlock()
	before, _, err := m.read(ctx)
	if err != nil {
		return err
	}
	after := clone(before)
	if err := edit(after); err != nil {
		return err
	}
	if err := m.o.Check(after); err != nil {
		return &Invalid{err}
	}
	puts, dels := diff(rowsOf(before), rowsOf(after))
	if len(puts)+len(dels) == 0 {
		return nil
	}
	if err := m.st.write(ctx, puts, dels, m.o.Now()); err != nil {
		return err
	}
	err = m.refresh(ctx, true)
	m.publish(ctx)
	return err
}

// refresh reads the store and applies its layer when its version moved
// (or force). A layer Apply refuses leaves the running configuration.
func (m *Manager) refresh(ctx context.Context, force bool) error {
	m.apply.Lock()
	defer m.apply.Unlock()
	if !force {
		v, err := m.st.version(ctx)
		if err != nil || v == m.ver.Load() {
			return err
		}
	}
	l, v, err := m.read(ctx)
	var bad *unreadable
	if errors.As(err, &bad) {
		v, _ := m.st.version(ctx)
		m.ver.Store(v) // not again until the next change
		m.o.Logger.Error("the stored configuration does not read; keeping the running one", "version", v, "err", err)
	}
	if err != nil {
		return err
	}
	// In force (Layer) before Apply swaps the Bridge, so nothing serves a
	// configuration Layer does not show yet; put back if Apply refuses it.
	prev := m.cur.Swap(l)
	m.ver.Store(v) // a refused version is not tried again until the next change
	if err := m.o.Apply(l); err != nil {
		m.cur.Store(prev)
		m.o.Logger.Error("the stored configuration was refused; keeping the running one", "version", v, "err", err)
		return errors.New("the change was stored but applying it failed: " + err.Error())
	}
	return nil
}

// Start follows the other replicas' changes until Close: by polling and,
// when rdb is not nil (it replaces Options.Redis), by Redis messages.
func (m *Manager) Start(rdb *redis.Client) {
	if rdb != nil {
		m.o.Redis = rdb
	}
	m.wg.Go(m.poll)
	if m.o.Redis != nil {
		m.wg.Go(m.listen)
	}
}

// Close stops following changes.
func (m *Manager) Close() {
	close(m.stop)
	m.wg.Wait()
}

func (m *Manager) poll() {
	t := time.NewTicker(m.o.Poll)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.refreshLogged()
		}
	}
}

func (m *Manager) refreshLogged() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.refresh(ctx, false); err != nil {
		m.o.Logger.Debug("stored configuration: refresh failed; retrying", "err", err)
	}
}

// channel is the Redis channel change messages go on.
func (m *Manager) channel() string { return m.o.RedisPrefix + "config" }

// publish tells the other replicas of a change (a failure is only
// logged: polling catches up).
func (m *Manager) publish(ctx context.Context) {
	if m.o.Redis == nil {
		return
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := m.o.Redis.Publish(pctx, m.channel(), m.node).Err(); err != nil {
		m.o.Logger.Warn("stored configuration: telling the other replicas over Redis failed; they see it by polling", "err", err)
	}
}

// listen refreshes on every other replica's change message and after
// every (re)subscription, until Close.
func (m *Manager) listen() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := m.o.Redis.Subscribe(ctx, m.channel())
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-m.stop:
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if rm, isMsg := msg.(*redis.Message); isMsg && rm.Payload == m.node {
				continue
			}
			m.refreshLogged()
		}
	}
}
