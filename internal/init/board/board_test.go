package board

import (
	"testing"
	"time"
)

func TestBoardUpdateTracksStateChanges(t *testing.T) {
	b := NewBoard("postgres", "redis")
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.now = func() time.Time { return clock }

	clock = clock.Add(time.Second)
	b.Update("redis", func(s *Service) { s.State = Running; s.PID = 42 })
	clock = clock.Add(time.Second)
	b.Update("redis", func(s *Service) { s.Restarts++ }) // no state change: Since stays

	snap := b.Snapshot()
	if snap.Phase != Starting {
		t.Fatalf("phase = %s, want starting", snap.Phase)
	}
	r, ok := snap.Service("redis")
	if !ok || r.State != Running || r.PID != 42 || r.Restarts != 1 {
		t.Fatalf("redis = %+v", r)
	}
	if want := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC); !r.Since.Equal(want) {
		t.Fatalf("since = %v, want %v", r.Since, want)
	}
	if p, _ := snap.Service("postgres"); p.State != Waiting {
		t.Fatalf("postgres = %+v, want waiting", p)
	}

	b.Update("garage", func(s *Service) { s.State = Disabled })
	if _, ok := snap.Service("garage"); ok {
		t.Fatal("snapshot changed after it was taken")
	}
	if g, ok := b.Snapshot().Service("garage"); !ok || g.State != Disabled {
		t.Fatalf("garage = %+v", g)
	}
}

// TestChangedWakesReaders: a reader waiting on Changed learns of the next change, and only real
// changes count (the health server probes on them).
func TestChangedWakesReaders(t *testing.T) {
	b := NewBoard("redis")
	v0, ch := b.Version(), b.Changed()
	b.Update("redis", func(s *Service) {}) // no change
	select {
	case <-ch:
		t.Fatal("woken without a change")
	default:
	}
	b.Update("redis", func(s *Service) { s.State = Running })
	select {
	case <-ch:
	default:
		t.Fatal("not woken by a change of state")
	}
	if b.Version() != v0+1 || b.Snapshot().Version != b.Version() {
		t.Fatalf("version %d after one change from %d", b.Version(), v0)
	}
	ch = b.Changed()
	b.SetPhase(Ready)
	select {
	case <-ch:
	default:
		t.Fatal("not woken by a change of phase")
	}
}
