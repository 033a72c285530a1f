//go:build linux

package main

import (
	"syscall"
	"time"
)

// prSetTimerSlack is prctl's PR_SET_TIMERSLACK (linux/prctl.h).
const prSetTimerSlack = 29

// preciseThread asks the kernel to wake this OS thread within 1 ns of the time it asks for, instead of the
// default 50 µs of slack. The caller has locked its goroutine to the thread, so the setting stays with it.
func preciseThread() {
	_, _, _ = syscall.Syscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
}

// sleepUntil sleeps in nanosleep(2), not in Go's timers: the runtime waits for a timer in epoll_wait,
// whose timeout is whole milliseconds, so a goroutine due in 0.3 ms wakes up to a millisecond late, and at
// 1,000 requests a second that lateness would be the client's tail. A signal (the runtime's preemption
// signal among them) ends nanosleep early; the loop sleeps again for what is left.
func sleepUntil(due time.Time) {
	for {
		left := time.Until(due)
		if left <= 0 {
			return
		}
		span := syscall.NsecToTimespec(left.Nanoseconds())
		_ = syscall.Nanosleep(&span, nil)
	}
}
