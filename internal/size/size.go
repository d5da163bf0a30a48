// Package size measures what files take and formats byte counts for people.
package size

import "fmt"

// Text is n bytes in the largest binary unit that keeps it at least 1 ("2.3 GiB", "512 B").
func Text(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}
