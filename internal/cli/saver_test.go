package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/learning"
	"github.com/docstokg/contentdl/internal/testkit"
)

// The periodic learning save follows the run's clock, not the wall clock: on a fake
// clock nothing is saved until the fake time passes save_every, and then it is.
func TestSaverTicksOnTheRunsClock(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "learning.json")
	var logs testkit.Buffer
	log := newLogger(&logs, "debug", "text")
	cfg := learning.DefaultConfig()
	tr := learning.NewTracker(cfg, clk, log)
	if err := tr.Open(path); err != nil {
		t.Fatal(err)
	}
	tr.Register("web", "pub.example", 10, 1, rate.NewLimiter(10, 1))
	tr.Observe(learning.Observation{Host: "pub.example", Status: 200})

	const every = 30 * time.Second
	stop := startSaver(context.Background(), clk, tr, every, log)
	defer stop()
	clk.Advance(every - time.Second)
	time.Sleep(50 * time.Millisecond) // a wrong (wall-clock or early) tick would have time to save
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("saved before save_every of the run's time had passed (%v)", err)
	}
	clk.Advance(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not saved after save_every of the run's time; logs:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
