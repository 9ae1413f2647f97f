// Package flight runs one call for every concurrent caller that asks for
// the same key, and hands each of them its result: a singleflight whose
// shared call can be canceled.
//
// The call runs detached from any one caller: its context keeps the values
// of the caller that started it (an orchestration recorder, a logger) but
// not its cancellation, and it is canceled only when every caller waiting
// for it has gone. So one impatient client does not cut short the work
// others wait for, and work nobody waits for any more stops. A panic in
// the call becomes a *PanicError for every waiter instead of taking the
// process down from its goroutine.
package flight

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// Group shares calls by key. The zero value is ready to use; a Group must
// not be copied after first use.
type Group[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*call[V]
}

type call[V any] struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int
	val     V
	err     error
}

// PanicError is a panic in a shared call.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Do runs fn once for all concurrent calls with key and returns its result
// to each, or the cause of ctx's end when ctx is done first. shared reports
// whether the result came from a call another caller started. done, when
// not nil, is called in the shared call's goroutine with its result once
// fn returns, before any waiter gets it (to cache it, say).
func (g *Group[K, V]) Do(ctx context.Context, key K, fn func(context.Context) (V, error), done func(V, error)) (v V, shared bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[K]*call[V]{}
	}
	c, shared := g.calls[key]
	if !shared {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[V]{done: make(chan struct{}), cancel: cancel}
		g.calls[key] = c
		go g.run(cctx, key, c, fn, done)
	}
	c.waiters++
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, shared, c.err
	case <-ctx.Done():
		g.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			c.cancel()
			if g.calls[key] == c {
				delete(g.calls, key)
			}
		}
		g.mu.Unlock()
		var zero V
		return zero, shared, context.Cause(ctx)
	}
}

func (g *Group[K, V]) run(ctx context.Context, key K, c *call[V], fn func(context.Context) (V, error), done func(V, error)) {
	defer close(c.done)
	defer c.cancel()
	defer func() {
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		if done != nil {
			done(c.val, c.err)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			c.err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	c.val, c.err = fn(ctx)
}

// Waiting returns the number of callers waiting for key's call.
func (g *Group[K, V]) Waiting(key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}
