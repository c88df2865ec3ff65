//go:build !race

package timeouts

const raceEnabled = false
