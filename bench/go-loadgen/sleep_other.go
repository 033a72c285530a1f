//go:build !linux

package main

import "time"

// preciseThread has nothing to set outside Linux.
func preciseThread() {}

// sleepUntil falls back to Go's timers, which may wake up to a millisecond late: the lag figure shows it.
func sleepUntil(due time.Time) {
	if left := time.Until(due); left > 0 {
		time.Sleep(left)
	}
}
