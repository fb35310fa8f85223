// Command contentdl finds scholarly works on OpenAlex and downloads their open-access
// full texts. See README.md.
package main

import (
	"os"

	"github.com/docstokg/contentdl/internal/cli"
)

func main() {
	stop := startProfiles(os.Getenv, os.Stderr)
	code := cli.Main(os.Args[1:], cli.OSState())
	stop()
	os.Exit(code)
}
