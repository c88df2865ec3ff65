//go:build race

package certauth

const raceEnabled = true
