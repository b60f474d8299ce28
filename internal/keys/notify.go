package keys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/redis/go-redis/v9"
)

// Changes to the virtual keys reach every replica in two ways: the
// replica that makes one reads the keys again before it answers
// (Changed) and publishes a message on the Redis channel <prefix>keys,
// which every other replica's Admitter is subscribed to and reloads on;
// and, as the fallback for a missed message (Redis down, a reconnect, a
// change made by the CLI), each Admitter polls the store's key version
// (Options.Poll).

// publishTimeout bounds telling the other replicas of a change: a slow
// Redis must not hold the admin call long (polling catches up anyway).
const publishTimeout = time.Second

// newNode returns a random id of this Admitter, the payload of its change
// messages, so it can skip its own.
func newNode() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// channel is the Redis channel change messages go on.
func (a *Admitter) channel() string { return a.o.RedisPrefix + "keys" }

// Changed applies a change to the virtual keys that this process has
// just made in the store (a key created, changed or revoked): it reads
// the keys again before it returns, so the change holds for the next
// request, and, when Redis is configured, tells the other replicas,
// which read them at once too. The admin API calls it (through the
// server) before it answers. The error is the store's, when the keys
// could not be read (polling retries); a failed publish is only logged.
func (a *Admitter) Changed(ctx context.Context) error {
	if a.o.Store == nil {
		return nil
	}
	err := a.reload(ctx, false)
	if a.o.Redis != nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		if perr := a.o.Redis.Publish(pctx, a.channel(), a.node).Err(); perr != nil {
			a.log.Warn("virtual keys: telling the other replicas of a change over Redis failed; they see it by polling", "error", perr)
		}
		cancel()
	}
	return err
}

// listen reloads the keys whenever another replica announces a change on
// the Redis channel, and after every (re)subscription, which may have
// missed some, until Close. go-redis reconnects and resubscribes.
func (a *Admitter) listen() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := a.o.Redis.Subscribe(ctx, a.channel())
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-a.stop:
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			if msg, isMsg := m.(*redis.Message); isMsg && msg.Payload == a.node {
				continue // our own change, applied already
			}
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			if err := a.reload(rctx, false); err != nil {
				a.log.Warn("virtual keys: reading the store after a change message failed; polling retries", "error", err)
			}
			rcancel()
		}
	}
}
