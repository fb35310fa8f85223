//go:build !unix

package cli

func setTestUmask() {}
