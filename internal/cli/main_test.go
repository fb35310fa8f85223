package cli

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// execMainEnv makes the test binary run contentdl's Main instead of the tests, so the
// crash and interruption tests can SIGKILL and SIGINT a real contentdl process
// without building one.
const execMainEnv = "CONTENTDL_TEST_EXEC_MAIN"

// TestMain runs Main when re-executed as contentdl, and otherwise runs the tests and
// then fails the package if any of them left a goroutine behind (a request, a
// limiter wait, a progress ticker or a learning saver that outlived its run).
func TestMain(m *testing.M) {
	if os.Getenv(execMainEnv) == "1" {
		setTestUmask() // CONTENTDL_TEST_UMASK: the umask is process-wide, so only in a child
		os.Exit(Main(os.Args[1:], OSState()))
	}
	goleak.VerifyTestMain(m)
}
