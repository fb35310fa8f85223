package report

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// unlimitedRPS is the threshold above which a rate limit means "no limit":
// golang.org/x/time/rate.Inf is math.MaxFloat64.
const unlimitedRPS = math.MaxFloat64 / 2

// isUnlimited reports whether rps stands for an unlimited host.
func isUnlimited(rps float64) bool { return math.IsInf(rps, 1) || rps >= unlimitedRPS }

// formatRPS prints a requests-per-second figure compactly: "inf", "0.005", "0.33",
// "2", "12.5". It is the one rate format of every table contentdl prints.
func formatRPS(rps float64) string {
	switch {
	case isUnlimited(rps):
		return "inf"
	case rps <= 0 || math.IsNaN(rps):
		return "0"
	case rps < 0.01:
		return strconv.FormatFloat(rps, 'g', 2, 64) // a learned floor such as 0.005 stays visible
	case rps < 1:
		return fmt.Sprintf("%.2f", rps)
	case rps == math.Trunc(rps):
		return fmt.Sprintf("%.0f", rps)
	case rps < 100:
		return fmt.Sprintf("%.1f", rps)
	}
	return fmt.Sprintf("%.0f", rps)
}

// formatMS prints a latency given in milliseconds: "-" (none), "8.5ms", "240ms", "1.25s".
func formatMS(ms float64) string {
	switch {
	case ms <= 0:
		return "-"
	case ms < 10:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

// formatDuration prints a duration to the second, compactly: "45s", "3m10s", "1h02m",
// "3d04h". It is the one duration format of every table contentdl prints.
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h >= 24:
		return fmt.Sprintf("%dd%02dh", h/24, h%24)
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// formatBytes prints a byte count with SI units: "512 B", "1.2 MB", "34 GB".
func formatBytes(n float64) string {
	const unit = 1000
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for n >= unit && i < len(units)-1 {
		n /= unit
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	if n < 10 {
		return fmt.Sprintf("%.1f %s", n, units[i])
	}
	return fmt.Sprintf("%.0f %s", n, units[i])
}

// percent returns part/whole in percent, 0 when whole is 0.
func percent(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// secondsToDuration converts float seconds to a Duration.
func secondsToDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
