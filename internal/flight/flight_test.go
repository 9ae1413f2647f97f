package flight

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDoSharesOneCall(t *testing.T) {
	var g Group[string, int]
	var calls atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (int, error) {
		calls.Add(1)
		<-release
		return 42, nil
	}
	const n = 20
	var wg sync.WaitGroup
	results := make(chan int, n)
	var sharedCount atomic.Int32
	for range n {
		wg.Go(func() {
			v, shared, err := g.Do(context.Background(), "k", fn, nil)
			if err != nil {
				t.Errorf("Do: %v", err)
			}
			if shared {
				sharedCount.Add(1)
			}
			results <- v
		})
	}
	waitFor(t, "every caller to wait", func() bool { return g.Waiting("k") == n })
	close(release)
	wg.Wait()
	close(results)
	for v := range results {
		if v != 42 {
			t.Errorf("got %d; want 42", v)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Errorf("fn ran %d times; want 1", c)
	}
	if s := sharedCount.Load(); s != n-1 {
		t.Errorf("%d callers shared; want %d", s, n-1)
	}
}

func TestDoCancelsWhenEveryWaiterLeaves(t *testing.T) {
	var g Group[string, int]
	canceled := make(chan struct{})
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	fn := func(ctx context.Context) (int, error) {
		<-ctx.Done()
		close(canceled)
		return 0, ctx.Err()
	}
	errs := make(chan error, 2)
	go func() { _, _, err := g.Do(ctx1, "k", fn, nil); errs <- err }()
	waitFor(t, "first waiter", func() bool { return g.Waiting("k") == 1 })
	go func() { _, _, err := g.Do(ctx2, "k", fn, nil); errs <- err }()
	waitFor(t, "second waiter", func() bool { return g.Waiting("k") == 2 })
	cancel1()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v; want context.Canceled", err)
	}
	select {
	case <-canceled:
		t.Fatal("the call was canceled while a caller still waited")
	case <-time.After(20 * time.Millisecond):
	}
	cancel2()
	<-errs
	select {
	case <-canceled:
	case <-time.After(10 * time.Second):
		t.Fatal("the call was not canceled after every caller left")
	}
}

type ctxKey struct{}

func TestDoKeepsTheFirstCallersValues(t *testing.T) {
	var g Group[int, string]
	ctx := context.WithValue(context.Background(), ctxKey{}, "first")
	v, _, err := g.Do(ctx, 1, func(ctx context.Context) (string, error) {
		s, _ := ctx.Value(ctxKey{}).(string)
		return s, nil
	}, nil)
	if err != nil || v != "first" {
		t.Fatalf("got %q, %v; want first", v, err)
	}
}

func TestDoTurnsAPanicIntoAnError(t *testing.T) {
	var g Group[int, int]
	var doneErr error
	_, _, err := g.Do(context.Background(), 1, func(context.Context) (int, error) { panic("boom") },
		func(_ int, err error) { doneErr = err })
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Fatalf("got %v; want a PanicError with its stack", err)
	}
	if doneErr != err {
		t.Errorf("done got %v; want %v", doneErr, err)
	}
	// A later call runs again.
	v, shared, err := g.Do(context.Background(), 1, func(context.Context) (int, error) { return 7, nil }, nil)
	if v != 7 || shared || err != nil {
		t.Errorf("got %d, %t, %v; want 7, false, nil", v, shared, err)
	}
}
