package record

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/state"
)

func TestPushRecord(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if _, err := s.LastPush(); !errors.Is(err, ErrNoPush) {
		t.Fatalf("no record: %v", err)
	}
	p := Push{Repo: "127.0.0.1:5000/app", Index: "sha256:aa", Images: map[arch.Arch]string{arch.X86_64: "sha256:bb"},
		Tags: []string{"latest"}, PushedAt: time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)}
	if err := s.SavePush(p); err != nil {
		t.Fatal(err)
	}
	got, err := s.LastPush()
	if err != nil || got.Ref() != "127.0.0.1:5000/app@sha256:aa" || !got.PushedAt.Equal(p.PushedAt) || got.Images[arch.X86_64] != "sha256:bb" {
		t.Fatalf("read back %+v, %v", got, err)
	}
	p.Index = ""
	if p.Ref() != "127.0.0.1:5000/app@sha256:bb" {
		t.Errorf("one image without an index: %q", p.Ref())
	}
	p.Images[arch.AArch64] = "sha256:cc"
	if p.Ref() != "" {
		t.Errorf("two images without an index name no one reference: %q", p.Ref())
	}
	os.WriteFile(state.Dir(s.Dir).Pushed(), []byte("{"), 0o644)
	if _, err := s.LastPush(); !errors.Is(err, ErrDamaged) {
		t.Errorf("damaged record: %v", err)
	}
}
