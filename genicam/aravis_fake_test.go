//go:build cgo && !noaravis

package genicam

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
	"github.com/ptpcam/ptpcam/rig"
)

// Tests against Aravis' own fake camera: discovery, open, typed features and
// streams work without camsim.

func fakeSpec(serials ...string) rigSpec {
	var cams []rig.Camera
	for _, s := range serials {
		cams = append(cams, rig.Camera{Serial: s})
	}
	return rigSpec{Cameras: cams, Fake: true}
}

// smallFrames is an acquisition of small frames at a quick rate, for tests
// of streams rather than of images.
var smallFrames = Acquisition{Width: 64, Height: 48, PixelFormat: "Mono8", FrameRate: 50}

// fakeCamera runs the test inside a rig of one Aravis fake camera (inRig:
// false in the parent process, which only waits for that child) and opens
// it there for the test.
func fakeCamera(t *testing.T, serial string) (*Camera, bool) {
	t.Helper()
	r, ok := inRig(t, fakeSpec(serial))
	if !ok {
		return nil, false
	}
	return openAddr(t, r.Cameras[0].Address), true
}

// configuredFake is fakeCamera configured for smallFrames, with a context
// that bounds the test's calls to 30 s.
func configuredFake(t *testing.T, serial string) (*Camera, context.Context, bool) {
	t.Helper()
	cam, ok := fakeCamera(t, serial)
	if !ok {
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	if err := cam.Configure(ctx, smallFrames); err != nil {
		t.Fatal(err)
	}
	return cam, ctx, true
}

func TestFakeDiscoverAndOpen(t *testing.T) {
	r, ok := inRig(t, fakeSpec("FAKE01", "FAKE02"))
	if !ok {
		return
	}
	devs := waitDiscover(t, r)
	for _, d := range devs {
		t.Logf("found %+v", d)
		if d.Interface != r.HostInterface {
			t.Errorf("camera %s: interface %q, want %q", d.Serial, d.Interface, r.HostInterface)
		}
		if d.Address == "" || d.ID == "" || d.Vendor == "" || d.Model == "" {
			t.Errorf("camera %s: incomplete %+v", d.Serial, d)
		}
	}
	only, err := Discover(context.Background(), "lo")
	if err != nil || len(only) != 0 {
		t.Errorf("Discover(lo) = %+v, %v; want none", only, err)
	}
	if _, err := Discover(context.Background(), "nosuch0"); err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("Discover(nosuch0) error %v, want one naming the interface", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cams, err := OpenSelection(ctx, Selection{Serials: []string{"FAKE02"}})
	if err != nil {
		t.Fatal(err)
	}
	cam := cams[0]
	defer cam.Close()
	if cam.Serial() != "FAKE02" || cam.Info().Address != r.Cameras[1].Address || cam.Info().Interface != r.HostInterface {
		t.Errorf("opened %+v, want FAKE02 at %s on %s", cam.Info(), r.Cameras[1].Address, r.HostInterface)
	}
	_, err = OpenSelection(ctx, Selection{Serials: []string{"FAKE01", "NOPE", "NEITHER"}})
	if want := "camera NOPE, NEITHER not found; found 2 camera(s): FAKE01, FAKE02"; err == nil || err.Error() != want {
		t.Errorf("OpenSelection(FAKE01, NOPE, NEITHER) error %v, want %q", err, want)
	}
	if _, err := OpenSelection(ctx, Selection{Interface: "lo"}); err == nil || err.Error() != "no camera found on lo" {
		t.Errorf("OpenSelection(on lo) error %v, want no camera found on lo", err)
	}
}

func TestFakeFeatures(t *testing.T) {
	cam, ok := fakeCamera(t, "FAKE03")
	if !ok {
		return
	}
	ctx := context.Background()
	if err := cam.setInteger(ctx, "Width", 320); err != nil {
		t.Fatal(err)
	}
	if w, err := cam.getInteger(ctx, "Width"); err != nil || w != 320 {
		t.Errorf("Width = %d, %v; want 320", w, err)
	}
	if err := cam.setFloat(ctx, "AcquisitionFrameRate", 12.5); err != nil {
		t.Fatal(err)
	}
	if f, err := cam.getFloat(ctx, "AcquisitionFrameRate"); err != nil || f < 12.4 || f > 12.6 {
		t.Errorf("AcquisitionFrameRate = %v, %v; want 12.5", f, err)
	}
	if err := cam.setEnum(ctx, "PixelFormat", "Mono16"); err != nil {
		t.Fatal(err)
	}
	if s, err := cam.getEnum(ctx, "PixelFormat"); err != nil || s != "Mono16" {
		t.Errorf("PixelFormat = %q, %v; want Mono16", s, err)
	}
	for _, v := range []bool{true, false} {
		if err := cam.setBool(ctx, "TestBoolean", v); err != nil {
			t.Fatal(err)
		}
		if b, err := cam.getBool(ctx, "TestBoolean"); err != nil || b != v {
			t.Errorf("TestBoolean = %v, %v; want %v", b, err, v)
		}
	}
	if s, err := cam.getString(ctx, "DeviceVendorName"); err != nil || s == "" {
		t.Errorf("DeviceVendorName = %q, %v", s, err)
	}
	if err := cam.execute(ctx, "TriggerSoftware"); err != nil {
		t.Errorf("TriggerSoftware: %v", err)
	}
	if !cam.isAvailable("Width") || cam.isAvailable("PtpEnable") {
		t.Errorf("IsAvailable(Width)=%v IsAvailable(PtpEnable)=%v, want true false", cam.isAvailable("Width"), cam.isAvailable("PtpEnable"))
	}

	// A missing feature names camera and feature and carries Aravis' text.
	_, err := cam.getInteger(ctx, "PtpEnable")
	var ae *AravisError
	if !errors.As(err, &ae) || !errors.Is(err, ErrNotAvailable) ||
		!strings.Contains(err.Error(), "camera FAKE03: feature PtpEnable: [PtpEnable] Not found") {
		t.Errorf("missing feature error %v (%#v), want Aravis' [PtpEnable] Not found wrapped", err, ae)
	}
	// A bad enum entry carries the GenICam error.
	err = cam.setEnum(ctx, "TriggerSource", "Action0")
	if !errors.As(err, &ae) || errors.Is(err, ErrNotAvailable) || !strings.Contains(err.Error(), "Action0") ||
		!strings.Contains(err.Error(), "feature TriggerSource") {
		t.Errorf("bad enum error %v, want one naming TriggerSource and Action0", err)
	}
	t.Logf("bad enum: %v (domain %s code %d)", err, ae.Domain, ae.Code)
	// A type mismatch too.
	if _, err := cam.getFloat(ctx, "PixelFormat"); err == nil || !strings.Contains(err.Error(), "PixelFormat") {
		t.Errorf("Float(PixelFormat) error %v", err)
	}

	// The fake camera has no PTP: that is "not available", not a failure.
	if cam.PTPAvailable() {
		t.Error("PTPAvailable on the fake camera")
	}
	for name, err := range map[string]error{
		"EnablePTP": cam.EnablePTP(ctx, true),
		"PTPStatus": func() error { _, err := cam.PTPStatus(ctx); return err }(),
		"Latch":     func() error { _, err := cam.Latch(ctx); return err }(),
		"Scheduler": cam.ProgramScheduler(ctx, 1, time.Millisecond),
	} {
		if !errors.Is(err, ErrNotAvailable) {
			t.Errorf("%s: %v, want ErrNotAvailable", name, err)
		}
	}
	if err := cam.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cam.getInteger(ctx, "Width"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

func TestFakeStream(t *testing.T) {
	cam, ctx, ok := configuredFake(t, "FAKE04")
	if !ok {
		return
	}
	s, err := cam.StartStream(ctx, StreamConfig{Buffers: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 20
	var prev Frame
	for i := 0; i < n; i++ {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != FrameSuccess || len(f.Data) != 64*48 || f.Width != 64 || f.Height != 48 {
			t.Fatalf("frame %d: status %v, %d bytes, %dx%d; want success, %d bytes, 64x48", i, f.Status, len(f.Data), f.Width, f.Height, 64*48)
		}
		if i > 0 {
			// The fake camera's 16-bit block ids wrap (and skip 0).
			if want := prev.FrameID + 1; f.FrameID != want && !(prev.FrameID == 65535 && f.FrameID == 1) {
				t.Errorf("frame id %d after %d", f.FrameID, prev.FrameID)
			}
			if f.Timestamp <= prev.Timestamp || f.SystemTimestamp <= prev.SystemTimestamp {
				t.Errorf("timestamps not increasing: %d,%d after %d,%d", f.Timestamp, f.SystemTimestamp, prev.Timestamp, prev.SystemTimestamp)
			}
		}
		prev = f
		if err := s.Release(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Release(prev); err == nil {
		t.Error("second Release of a frame succeeded")
	}
	// Hold every buffer: the stream must count underruns, not crash.
	var held []Frame
	for i := 0; i < 4; i++ {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
	}
	time.Sleep(200 * time.Millisecond)
	st := s.Stats()
	t.Logf("stats %+v", st)
	if st.CompletedBuffers < n+4 || st.TransferredBytes < uint64((n+4)*64*48) || st.Underruns == 0 {
		t.Errorf("stats %+v: want ≥ %d completed, ≥ %d bytes, underruns > 0", st, n+4, (n+4)*64*48)
	}
	for _, f := range held[:2] {
		if err := s.Release(f); err != nil {
			t.Fatal(err)
		}
	}
	// Close with two frames still held frees them too.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	// A camera closes its streams.
	s2, err := cam.StartStream(ctx, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cam.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after camera Close: %v, want ErrClosed", err)
	}
}

// TestFakeOpenCloseLeak opens and closes a camera 1000 times (and a stream
// every 50th time) and checks the resident set stays flat.
func TestFakeOpenCloseLeak(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "-short: 1000 opens take tens of seconds")
	}
	r, ok := inRig(t, fakeSpec("FAKE05"))
	if !ok {
		return
	}
	ctx := context.Background()
	addr := r.Cameras[0].Address
	cycle := func(i int) {
		cam, err := openAddress(ctx, addr, openConfig{})
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if i%50 == 0 {
			s, err := cam.StartStream(ctx, StreamConfig{Buffers: 2})
			if err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
			f, err := s.Next(ctx)
			if err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
			_ = s.Release(f)
			_ = s.Close()
		}
		if err := cam.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// One OS thread: from many, freed chunks park in each thread's
	// caches (glibc's tcache, GLib's GSlice magazines) and count as in use
	// until the caches are full: 0-120 B per cycle that disappear with
	// GLIBC_TUNABLES=glibc.malloc.tcache_count=0 G_SLICE=always-malloc.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Warm up: GLib and Aravis allocate once-only state on first use.
	for i := 0; i < 100; i++ {
		cycle(i)
	}
	before, heapBefore := rssKiB(t), mallocInUse()
	const n = 1000
	start := time.Now()
	var mid int64
	for i := 0; i < n; i++ {
		if i == n/2 {
			mid = rssKiB(t)
		}
		cycle(i)
	}
	after, heapAfter := rssKiB(t), mallocInUse()
	t.Logf("malloc in use before %d B, after %d B: %+d B per cycle", heapBefore, heapAfter, (heapAfter-heapBefore)/n)
	t.Logf("open/close %d times in %v: RSS before %d KiB, half-way %d KiB, after %d KiB, growth %d KiB", n, time.Since(start).Round(time.Millisecond), before, mid, after, after-before)
	// A leak of 64 bytes per cycle would show as 64000 B. RSS moves with
	// malloc's arenas (it rises ~6 MiB over the first 500 cycles, then
	// stays within a few hundred KiB, measured to 4000 cycles).
	if heapAfter-heapBefore > 64000 {
		t.Errorf("malloc in use grew %d B over %d open/close cycles, want < 64000", heapAfter-heapBefore, n)
	}
	if after-before > 8*1024 {
		t.Errorf("RSS grew %d KiB over %d open/close cycles, want < 8 MiB", after-before, n)
	}
}

// TestFakeConcurrentAccess uses cameras from many goroutines at once, as the
// threading model allows (run it with -race).
func TestFakeConcurrentAccess(t *testing.T) {
	r, ok := inRig(t, fakeSpec("FAKE06", "FAKE07"))
	if !ok {
		return
	}
	cams := openAll(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := cams[0].StartStream(ctx, StreamConfig{Buffers: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	errc := make(chan error, 32)
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		cam := cams[g%2]
		wg.Go(func() {
			for i := 0; i < 50; i++ {
				if _, err := cam.getInteger(ctx, "Width"); err != nil {
					errc <- err
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < 10; i++ {
			f, err := s.Next(ctx)
			if err != nil {
				errc <- err
				return
			}
			_ = s.Stats()
			_ = s.Release(f)
		}
	})
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if n.Load() != 400 {
		t.Errorf("%d reads, want 400", n.Load())
	}
}

// TestStreamReceiveSettings: the socket buffer and resend share of
// StreamConfig reach Aravis' stream, zero keeps Aravis' defaults, and frames
// still arrive.
func TestStreamReceiveSettings(t *testing.T) {
	cam, ctx, ok := configuredFake(t, "FAKE07")
	if !ok {
		return
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
		if err := cam.Configure(ctx, smallFrames); err != nil {
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
