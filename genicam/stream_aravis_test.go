//go:build cgo && !noaravis

package genicam

import (
	"context"
	"testing"
	"time"
)

// TestStreamReceiveSettings: the socket buffer and resend share of
// StreamConfig reach Aravis' stream, zero keeps Aravis' defaults, and frames
// still arrive.
func TestStreamReceiveSettings(t *testing.T) {
	r, ok := inRig(t, fakeSpec("FAKE07"))
	if !ok {
		return
	}
	cam := openAddr(t, r.Cameras[0].Address)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cam.Configure(ctx, Acquisition{Width: 64, Height: 48, PixelFormat: "Mono8", FrameRate: 50}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg       StreamConfig
		socket    int
		resendMin float64
		resendMax float64
	}{
		{StreamConfig{Buffers: 4}, 0, 0.2499, 0.2501},
		{StreamConfig{Buffers: 4, SocketBuffer: 8 << 20, ResendRatio: 1}, 8 << 20, 0.9999, 1.0001},
		{StreamConfig{Buffers: 4, SocketBuffer: 1 << 20, ResendRatio: 7}, 1 << 20, 0.9999, 1.0001}, // capped at 1
	} {
		s, err := cam.StartStream(ctx, tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		sb, rr := s.receiveSettings()
		if sb != tc.socket || rr < tc.resendMin || rr > tc.resendMax {
			t.Errorf("%+v: socket buffer %d, resend ratio %v; want %d, %v", tc.cfg, sb, rr, tc.socket, tc.resendMax)
		}
		f, err := s.Next(ctx)
		if err != nil || f.Status != FrameSuccess {
			t.Errorf("%+v: first frame %v, %v", tc.cfg, f.Status, err)
		} else if err := s.Release(f); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
