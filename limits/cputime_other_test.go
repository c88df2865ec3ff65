//go:build !unix

package limits

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
