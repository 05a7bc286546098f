package camsim

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFineSleepUnderSignals: the pacer's sleep ends while its thread gets a
// signal every few microseconds, as the garbage collector sends one (SIGURG)
// each time it asks a goroutine to stop for a stack scan, until it does. The
// old sleep restarted with the time nanosleep(2) said was left, which
// includes the thread's timer slack, so each signal moved its end one slack
// later and it slept for as long as the signals came (this test: still
// asleep when they stop). The slack is 200 ms here, not the default 50 µs,
// so that one signal moved the old sleep's end further than any pause
// between two signals on a loaded machine (with 10 ms it ended 4 runs of 5
// before the signals stopped); a sleep to a fixed end may end up to the
// slack after it. It must also last at least what was asked.
func TestFineSleepUnderSignals(t *testing.T) {
	const (
		d     = 2 * time.Millisecond
		slack = 200 * time.Millisecond
	)
	tid := make(chan int)
	done := make(chan time.Duration, 1)
	go func() {
		// Locked to the end: the thread with its slack ends with the goroutine.
		runtime.LockOSThread()
		if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack), 0, 0, 0); err != nil {
			t.Error(err)
		}
		tid <- unix.Gettid()
		t0 := time.Now()
		fineSleep(d)
		done <- time.Since(t0)
	}()
	target := <-tid
	sent := 0
	for deadline := time.Now().Add(5 * time.Second); ; sent++ {
		select {
		case slept := <-done:
			if slept < d {
				t.Errorf("fineSleep(%v) slept %v", d, slept)
			}
			t.Logf("fineSleep(%v) with a %v timer slack slept %v under %d signals", d, slack, slept, sent)
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fineSleep(%v) with a %v timer slack still asleep after 5 s and %d signals", d, slack, sent)
		}
		if err := unix.Tgkill(unix.Getpid(), target, unix.SIGURG); err != nil {
			t.Fatal(err)
		}
		for t1 := time.Now(); time.Since(t1) < 5*time.Microsecond; {
		}
	}
}

var gcSink []byte

// TestStreamFramesDuringGC: frames leave whole while garbage collections run
// one after the other (each asks the streaming goroutine, in its pacing
// sleeps, to stop for a stack scan): every packet of every frame arrives within 2 s of
// the frame's start (it is paced over 60 ms: a margin of 30 for slower and
// busier machines), and collections did run meanwhile. With the old pacing
// sleep, frames took 5 to 40 s here.
func TestStreamFramesDuringGC(t *testing.T) {
	s, rx := testStreamer(t, sendMmsg)
	var stop atomic.Bool
	t.Cleanup(func() { stop.Store(true) })
	gcDone := make(chan uint32, 1)
	go func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		n0 := ms.NumGC
		for !stop.Load() {
			gcSink = make([]byte, 2<<20) // a frame's worth, as camsim's first frames allocate
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
		runtime.ReadMemStats(&ms)
		gcDone <- ms.NumGC - n0
	}()
	p := params(rx, 1920, 1080, 1500)
	p.period = 100 * time.Millisecond
	for i := range 8 {
		f := s.nextFrame(frameReq{ts: uint64(i + 1), p: p})
		sent := make(chan struct{})
		go func() { s.sendFrame(f); close(sent) }()
		got := rx.takeWithin(t, int(s.nPackets(f))+2, 2*time.Second)
		<-sent
		checkPackets(t, s, f, got, allIDs(s.nPackets(f)))
	}
	stop.Store(true)
	if n := <-gcDone; n < 8 {
		t.Errorf("%d garbage collections during 8 frames, want at least 8", n)
	}
}
