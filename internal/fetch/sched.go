package fetch

import (
	"context"
	"net/url"
	"time"
)

// The scheduler's seam. The download frontier asks the Client "may I send to host H
// now, and if not, when should I ask again" (TryAcquire), parks the work as data when
// the answer is no, and is woken by Changed when any host's state moves. Here the
// local host state answers; a fleet-wide backend can answer the same questions later.

// Yielder lets a request give its worker back while it waits (on a host's window,
// limiter, probe or concurrency cap, or in a retry pause), and take a worker again
// before it goes on. The download frontier puts one in each step's context. Every
// Park is followed by exactly one Unpark; Unpark waits for a free worker, and when ctx
// is done it takes one at once and returns ctx.Err(), so the count stays even.
type Yielder interface {
	Park()
	Unpark(ctx context.Context) error
}

type yielderKey struct{}

// WithYielder returns ctx carrying y.
func WithYielder(ctx context.Context, y Yielder) context.Context {
	return context.WithValue(ctx, yielderKey{}, y)
}

func yielderFrom(ctx context.Context) Yielder {
	y, _ := ctx.Value(yielderKey{}).(Yielder)
	return y
}

type permitKey struct{}

// WithPermit returns ctx whose first request to p's host is sent on p instead of
// waiting for the host again. The caller cancels p if no request used it.
func WithPermit(ctx context.Context, p *Permit) context.Context {
	if p == nil {
		return ctx
	}
	return context.WithValue(ctx, permitKey{}, p)
}

func permitFrom(ctx context.Context) *Permit {
	p, _ := ctx.Value(permitKey{}).(*Permit)
	return p
}

// TryAcquire asks whether a request may go to hostName now. It returns a permit when
// it may; otherwise the time to ask again (zero: after the next Changed). A window
// longer than the client's MaxWait, or an exhausted quota, is a *HostClosedError:
// a request sent now would be deferred at once without touching the network.
func (c *Client) TryAcquire(hostName string) (*Permit, time.Time, error) {
	return c.reg.get(hostName).admit(c.o.Clock.Now(), c.o.MaxWait)
}

// Changed returns a channel that is closed at the next change of any host's state: a
// slot released, a probe answered, a window opened or closed, a limit changed.
func (c *Client) Changed() <-chan struct{} { return c.reg.watch() }

// HostOf is the host key (host[:port]) under which a URL's requests are scheduled,
// or "" for a URL that no request will be sent for.
func HostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return u.Host
}

// pause waits d for a retry. The request's worker is given back meanwhile.
func (c *Client) pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	y := yielderFrom(ctx)
	if y == nil {
		return c.o.Clock.Sleep(ctx, d)
	}
	y.Park()
	err := c.o.Clock.Sleep(ctx, d)
	if uerr := y.Unpark(ctx); err == nil {
		err = uerr
	}
	return err
}
