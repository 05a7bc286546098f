//go:build cgo && !noaravis

package genicam

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestCameraCloseConcurrent: Close calls racing each other release the
// camera once. Close closes its streams outside the camera lock (a stop of
// acquisition is a GVCP round trip); before closeOnce a second Close in
// that window saw the camera not yet closed and unreffed it again.
func TestCameraCloseConcurrent(t *testing.T) {
	r, ok := inRig(t, fakeSpec("FAKE08"))
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const rounds = 10
	for round := range rounds {
		cam := openAddr(t, r.Cameras[0].Address)
		if err := cam.Configure(ctx, Acquisition{Width: 64, Height: 48, PixelFormat: "Mono8", FrameRate: 50}); err != nil {
			t.Fatal(err)
		}
		if _, err := cam.StartStream(ctx, StreamConfig{Buffers: 4}); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				<-start
				if err := cam.Close(); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		cam.mu.Lock()
		releases, closed := cam.releases, cam.closed
		cam.mu.Unlock()
		if releases != 1 || !closed {
			t.Fatalf("round %d: 4 concurrent Close calls released the camera %d times (closed=%v), want once", round, releases, closed)
		}
		if _, err := cam.StartStream(ctx, StreamConfig{Buffers: 4}); !errors.Is(err, ErrClosed) {
			t.Fatalf("round %d: call after Close: %v, want ErrClosed", round, err)
		}
	}
}
