// Command genman writes contentdl's man pages into a folder: go run ./scripts/genman man
package main

import (
	"fmt"
	"os"

	"github.com/docstokg/contentdl/internal/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genman DIR")
		os.Exit(2)
	}
	if err := cli.WriteManPages(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
}
