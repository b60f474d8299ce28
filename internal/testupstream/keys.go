package testupstream

import (
	"net/http"
	"strings"
)

// Per-key scripts (OpenAI-compatible chat path): a fake that serves several
// provider keys of one account, each with its own faults and counters.

// AcceptKeys makes the fake accept each of keys as a bearer key (besides
// Key). Call it before requests.
func (s *Server) AcceptKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keyed == nil {
		s.keyed = map[string]*keyScript{}
	}
	for _, k := range keys {
		if s.keyed[k] == nil {
			s.keyed[k] = &keyScript{}
		}
	}
}

// EnqueueFor queues replies for the next requests made with key (which it
// accepts from now on); they come before the shared queue.
func (s *Server) EnqueueFor(key string, r ...Reply) {
	s.AcceptKeys(key)
	s.mu.Lock()
	s.keyed[key].replies = append(s.keyed[key].replies, r...)
	s.mu.Unlock()
}

// SetDefaultFor sets the reply for requests made with key when its queue
// is empty, instead of the shared queue and default.
func (s *Server) SetDefaultFor(key string, r Reply) {
	s.AcceptKeys(key)
	s.mu.Lock()
	rep := r
	s.keyed[key].def = &rep
	s.mu.Unlock()
}

// RequestsFor counts the chat requests made with key.
func (s *Server) RequestsFor(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ks := s.keyed[key]; ks != nil {
		return ks.n
	}
	return 0
}

type keyScript struct {
	replies []Reply
	def     *Reply
	n       int
}

// bearer returns the request's bearer key.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return h[7:]
	}
	return ""
}

// keyAccepted reports whether the request's key is Key or one accepted.
func (s *Server) keyAccepted(r *http.Request) bool {
	k := bearer(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Key == "" || k == s.Key || s.keyed[k] != nil
}

// nextFor returns the next reply for a request made with key.
func (s *Server) nextFor(key string) Reply {
	s.mu.Lock()
	ks := s.keyed[key]
	if ks != nil {
		ks.n++
		if len(ks.replies) > 0 {
			r := ks.replies[0]
			ks.replies = ks.replies[1:]
			s.mu.Unlock()
			return r
		}
		if ks.def != nil {
			r := *ks.def
			s.mu.Unlock()
			return r
		}
	}
	s.mu.Unlock()
	return s.next()
}
