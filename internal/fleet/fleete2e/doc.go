// Package fleete2e runs real contentdl processes against a real redis-server and the
// simulator: the fleet's coordination, its negative control and the Redis fault. It
// holds tests only; they run in their own package so they run beside internal/cli's.
package fleete2e
