package fetch

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: a request, a limiter
// wait or a sleepOrChange watcher that outlived its call.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
