package sso

import (
	"sync"
	"time"
)

// maxSpent bounds the states remembered; beyond it the oldest go (their
// codes are single use at the provider all the same).
const maxSpent = 10000

// spent remembers the states used until they expire, so a callback
// replayed with the same state cookie is refused on this replica. Safe
// for concurrent use.
type spent struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// spend reports whether state was unused, and marks it used until
// expires.
func (s *spent) spend(state string, expires, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[state]; ok {
		return false
	}
	if len(s.m) >= maxSpent {
		var oldest string
		for k, e := range s.m {
			if !now.Before(e) {
				delete(s.m, k)
			} else if oldest == "" || e.Before(s.m[oldest]) {
				oldest = k
			}
		}
		if len(s.m) >= maxSpent {
			delete(s.m, oldest)
		}
	}
	s.m[state] = expires
	return true
}
