//go:build race

package custody

const raceEnabled = true
