//go:build race

package timeouts

const raceEnabled = true
