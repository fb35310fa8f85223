package clock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestFakeAdvancesOnSleepAndIsShared(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			before := f.Now()
			if err := f.Sleep(context.Background(), time.Second); err != nil {
				t.Error(err)
			}
			if f.Now().Sub(before) < time.Second {
				t.Error("woke before its time")
			}
		}()
	}
	wg.Wait()
	if got := f.Now().Sub(start); got != 4*time.Second {
		t.Errorf("clock moved %s, want 4s", got)
	}
	if slept, naps := f.Slept(); slept != 4*time.Second || naps != 4 {
		t.Errorf("Slept() = %s, %d", slept, naps)
	}
	f.Advance(time.Minute)
	if got := f.Now().Sub(start); got != 4*time.Second+time.Minute {
		t.Errorf("after Advance: %s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled sleep: %v", err)
	}
}

func TestRealSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Real{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Real.Sleep on a cancelled context = %v", err)
	}
	if err := (Real{}).Sleep(context.Background(), 0); err != nil {
		t.Errorf("zero sleep: %v", err)
	}
}

func TestManualSleepWaitsForAdvance(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() { done <- m.Sleep(context.Background(), 10*time.Second) }()
	for m.Sleepers() == 0 {
		time.Sleep(time.Millisecond)
	}
	m.Advance(9 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("Sleep(10s) returned after 9s: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	m.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- m.Sleep(ctx, time.Hour) }()
	for m.Sleepers() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil || m.Sleepers() != 0 {
		t.Fatalf("cancelled Sleep: err %v, sleepers %d", err, m.Sleepers())
	}
}
