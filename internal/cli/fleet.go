package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"

	"github.com/docstokg/contentdl/internal/clock"
	"github.com/docstokg/contentdl/internal/config"
	"github.com/docstokg/contentdl/internal/fleet"
)

// openFleet connects to the fleet's Redis when fleet.redis_url is set (nil, nil when
// it is not). A wrong URL, an unreachable server or refused credentials is a usage
// error (exit 2) naming the value's source, with the password masked.
func openFleet(ctx context.Context, cfg *config.Config, clk clock.Clock, log *slog.Logger) (*fleet.Client, error) {
	if cfg.Fleet.RedisURL == "" {
		return nil, nil
	}
	hn, _ := os.Hostname()
	member := fmt.Sprintf("%s:%d:%04x", hn, os.Getpid(), rand.Uint32()&0xffff)
	fl, err := fleet.Open(ctx, fleet.Options{URL: cfg.Fleet.RedisURL, Name: cfg.Fleet.Name, Member: member,
		Clock: clk, Logger: log})
	if err != nil {
		var ce *fleet.ConfigError
		if errors.As(err, &ce) {
			return nil, usagef("config: fleet.redis_url = %s (from %s): %s", config.MaskURL(cfg.Fleet.RedisURL),
				cfg.Source("fleet.redis_url"), ce.Msg)
		}
		return nil, err
	}
	log.Info("fleet: sharing host budgets through redis", "fleet", fl.Name(), "redis", fl.Addr(),
		"member", fl.Member(), "members", fl.Members())
	return fl, nil
}

// fleetStatus is the fleet's part of the progress line.
func fleetStatus(fl *fleet.Client) func() string {
	return func() string {
		if fl.Fallback() {
			return fmt.Sprintf("fleet away: local limits ÷%d", fl.Members())
		}
		return fmt.Sprintf("fleet %d", fl.Members())
	}
}
