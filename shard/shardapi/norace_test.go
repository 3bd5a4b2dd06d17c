//go:build !race

package shardapi

const raceEnabled = false
