package jwtkeys

import (
	"context"
	"sync"
	"time"
)

// MemoryRefreshStore is a RefreshStore in process memory, with the same
// semantics as jwtkeys/refreshpg: for tests and a single instance. Its
// records are lost on restart (every session then needs a new login, or is
// adopted once as legacy), and instances do not share it.
type MemoryRefreshStore struct {
	mu   sync.Mutex
	rows map[string]*memRefresh
}

type memRefresh struct {
	family, sub    string
	expires        time.Time
	spent, revoked bool
}

// NewMemoryRefreshStore returns an empty in-memory store.
func NewMemoryRefreshStore() *MemoryRefreshStore {
	return &MemoryRefreshStore{rows: map[string]*memRefresh{}}
}

// Record implements RefreshStore.
func (m *MemoryRefreshStore) Record(_ context.Context, rec RefreshRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[rec.ID] = &memRefresh{family: rec.ID, sub: rec.Subject, expires: rec.ExpiresAt}
	return nil
}

// Rotate implements RefreshStore.
func (m *MemoryRefreshStore) Rotate(_ context.Context, old, next RefreshRecord, adoptLegacy bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	row := m.rows[old.ID]
	switch {
	case row == nil && !adoptLegacy:
		return ErrRefreshUnknown
	case row == nil:
		row = &memRefresh{family: next.ID, sub: old.Subject, expires: old.ExpiresAt}
		m.rows[old.ID] = row
	case row.revoked:
		return ErrRefreshRevoked
	case row.sub != old.Subject:
		return ErrRefreshUnknown
	case row.spent:
		for _, r := range m.rows {
			if r.family == row.family {
				r.revoked = true
			}
		}
		return ErrRefreshReused
	}
	row.spent = true
	m.rows[next.ID] = &memRefresh{family: row.family, sub: next.Subject, expires: next.ExpiresAt}
	return nil
}

// RevokeSubject revokes every live token of sub ("" for everyone) and
// returns how many.
func (m *MemoryRefreshStore) RevokeSubject(sub string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.rows {
		if (sub == "" || r.sub == sub) && !r.revoked && !r.spent {
			r.revoked = true
			n++
		}
	}
	return n
}

// DeleteExpired drops the records of tokens expired before before.
func (m *MemoryRefreshStore) DeleteExpired(before time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, r := range m.rows {
		if r.expires.Before(before) {
			delete(m.rows, id)
			n++
		}
	}
	return n
}
