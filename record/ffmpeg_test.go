package record

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptpcam/ptpcam/internal/testenv"
)

// fakeFFmpeg writes a shell script standing in for ffmpeg: it fails the
// encoders in fail with the given stderr text (as ffmpeg 5.1's nvenc.c prints
// them) and succeeds for every other.
func fakeFFmpeg(t *testing.T, fail map[string]string) string {
	t.Helper()
	testenv.RequireTool(t, "sh")
	var b strings.Builder
	b.WriteString("#!/bin/sh\nargs=\"$*\"\n")
	for enc, msg := range fail {
		b.WriteString("case \"$args\" in *\"-c:v " + enc + " \"*) echo '[" + enc + " @ 0x55d0] " + msg + "' >&2\n" +
			"echo 'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0' >&2; exit 1;; esac\n")
	}
	b.WriteString("exit 0\n")
	p := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(p, []byte(b.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func testOpts(bin string) ffmpegOptions {
	return ffmpegOptions{bin: bin, width: 640, height: 480, fps: 50, pixFmt: "bayer_grbg8", bitrate: "2.2M", container: "mkv", clusterLimitMs: 200}
}

func TestClassifyNVENCErrors(t *testing.T) {
	// Not parallel: it writes fake ffmpeg scripts and runs them, and a
	// script still open for writing in a child forked by a parallel test
	// fails to exec with ETXTBSY.
	for _, tc := range []struct {
		msg  string
		want ErrorClass
	}{
		{"Cannot load libcuda.so.1", ClassNoDriver},
		{"Cannot load libnvidia-encode.so.1", ClassNoDriver},
		{"Driver does not support the required nvenc API version. Required: 12.0 Found: 11.1", ClassOldDriver},
		{"OpenEncodeSessionEx failed: out of memory (10): (no details)", ClassTooManySessions},
		{"OpenEncodeSessionEx failed: unsupported device (2): (no details)", ClassUnsupportedDevice},
		{"No capable devices found", ClassUnsupportedDevice},
		{"something else went wrong", ClassFailed},
	} {
		t.Run(string(tc.want), func(t *testing.T) {
			bin := fakeFFmpeg(t, map[string]string{"hevc_nvenc": tc.msg})
			err := probeEncoder(context.Background(), testOpts(bin), "hevc_nvenc")
			var ee *EncoderError
			if !errors.As(err, &ee) {
				t.Fatalf("probe error %v, want an EncoderError", err)
			}
			if ee.Class != tc.want || !strings.Contains(ee.Detail, tc.msg) {
				t.Errorf("class %s detail %q, want %s with %q", ee.Class, ee.Detail, tc.want, tc.msg)
			}
		})
	}
}

func TestPlanEncoders(t *testing.T) {
	// Not parallel: it writes fake ffmpeg scripts and runs them, and a
	// script still open for writing in a child forked by a parallel test
	// fails to exec with ETXTBSY.
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		fail      map[string]string
		requested string
		n, cap    int
		want      []string
		reason    string // in the reason of the last camera
		err       string
	}{
		{"auto no driver", map[string]string{"hevc_nvenc": "Cannot load libcuda.so.1"}, "auto", 2, 3,
			[]string{"libx265", "libx265"}, "no_driver", ""},
		{"auto no x265", map[string]string{"hevc_nvenc": "Cannot load libcuda.so.1", "libx265": "Unknown encoder 'libx265'"}, "auto", 1, 3,
			[]string{"libx264"}, "not_built", ""},
		{"auto nvenc capped", nil, "auto", 5, 3,
			[]string{"hevc_nvenc", "hevc_nvenc", "hevc_nvenc", "libx265", "libx265"}, "nvenc-max-sessions=3", ""},
		{"explicit nvenc fails", map[string]string{"hevc_nvenc": "Cannot load libcuda.so.1"}, "hevc_nvenc", 4, 3,
			nil, "", "--encoder hevc_nvenc: encoder hevc_nvenc unusable: no NVIDIA driver (no_driver): [hevc_nvenc @ 0x55d0] Cannot load libcuda.so.1"},
		{"explicit old driver", map[string]string{"h264_nvenc": "Driver does not support the required nvenc API version"}, "h264_nvenc", 1, 3,
			nil, "", "old_driver"},
		{"explicit x264", nil, "libx264", 2, 3, []string{"libx264", "libx264"}, "requested", ""},
		{"raw", nil, "raw", 1, 3, []string{"raw"}, "requested", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := planEncoders(ctx, testOpts(fakeFFmpeg(t, tc.fail)), tc.requested, tc.n, tc.cap, log)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				if got[i].Encoder != w {
					t.Errorf("camera %d: %s, want %s (%+v)", i, got[i].Encoder, w, got)
				}
			}
			if r := got[len(got)-1].Reason; !strings.Contains(r, tc.reason) {
				t.Errorf("reason %q, want it to say %q", r, tc.reason)
			}
		})
	}
}

// TestPlanEncodersRealFFmpeg: with the real ffmpeg, auto picks NVENC where
// it opens and otherwise a CPU encoder, saying why.
func TestPlanEncodersRealFFmpeg(t *testing.T) {
	testenv.RequireTool(t, "ffmpeg")
	got, err := planEncoders(context.Background(), testOpts("ffmpeg"), "auto", 1, 3, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	nv := probeEncoder(context.Background(), testOpts("ffmpeg"), "hevc_nvenc")
	if nv == nil {
		if got[0].Encoder != EncoderHEVCNVENC {
			t.Errorf("NVENC opens but auto chose %+v", got[0])
		}
		return
	}
	t.Logf("auto: %+v", got[0])
	if got[0].Encoder != EncoderLibx265 && got[0].Encoder != EncoderLibx264 {
		t.Errorf("auto chose %s, want a CPU encoder", got[0].Encoder)
	}
	if !strings.Contains(got[0].Reason, "hevc_nvenc unusable") {
		t.Errorf("reason %q does not say why NVENC was not used", got[0].Reason)
	}
}

func TestParseProgress(t *testing.T) {
	t.Parallel()
	in := `frame=0
fps=0.00
stream_0_0_q=0.0
bitrate=N/A
total_size=48
out_time_us=N/A
out_time_ms=N/A
out_time=N/A
dup_frames=0
drop_frames=0
speed=N/A
progress=continue
frame=120
fps=49.87
stream_0_0_q=28.0
bitrate=2201.3kbits/s
total_size=661234
out_time_us=2400000
out_time_ms=2400000
out_time=00:00:02.400000
dup_frames=0
drop_frames=0
speed=0.998x
progress=end
`
	var got []Progress
	if err := parseProgress(strings.NewReader(in), func(p Progress) { got = append(got, p) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d blocks, want 2", len(got))
	}
	if p := got[0]; p.Frame != 0 || !math.IsNaN(p.BitrateBps) || !math.IsNaN(p.Speed) || p.TotalSize != 48 || p.End {
		t.Errorf("block 0: %+v", p)
	}
	p := got[1]
	if p.Frame != 120 || p.FPS != 49.87 || math.Abs(p.BitrateBps-2201300) > 1e-6 || p.TotalSize != 661234 ||
		p.OutTime != 2400*time.Millisecond || p.Speed != 0.998 || !p.End {
		t.Errorf("block 1: %+v", p)
	}
}

func TestSetPipeSize(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	got, err := setPipeSize(w, PipeSize)
	if err != nil {
		testenv.Skip(t, "F_SETPIPE_SZ refused here: %v", err)
	}
	if got < PipeSize {
		t.Errorf("pipe size %d, want >= %d", got, PipeSize)
	}
}

func TestRecordArgs(t *testing.T) {
	t.Parallel()
	o := testOpts("ffmpeg")
	o.genicamFormat = "BayerGR8"
	got := strings.Join(o.recordArgs(EncoderHEVCNVENC, "/x/cam1.mkv"), " ")
	for _, want := range []string{"-progress pipe:3 -stats_period 1", "-f rawvideo -pix_fmt bayer_grbg8 -video_size 640x480 -framerate 50 -i pipe:0",
		"-vf format=yuv420p -c:v hevc_nvenc -preset p4 -b:v 2.2M -g 50", "-flush_packets 1 -cluster_time_limit 200 -f matroska", "-y /x/cam1.mkv"} {
		if !strings.Contains(got, want) {
			t.Errorf("args %q lack %q", got, want)
		}
	}
	o.container = "mp4"
	if got := strings.Join(o.recordArgs(EncoderLibx264, "a.mp4"), " "); !strings.Contains(got, "-movflags +frag_keyframe+empty_moov+default_base_moof -f mp4") {
		t.Errorf("mp4 args %q", got)
	}
	if got := strings.Join(o.recordArgs(EncoderRaw, "a.mkv"), " "); !strings.Contains(got, "-pix_fmt gray") || !strings.Contains(got, "-c:v rawvideo") {
		t.Errorf("raw args %q", got)
	}
}

func TestEncoderPreset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		enc, preset, want string
	}{
		{EncoderHEVCNVENC, "", "-preset p4"},
		{EncoderH264NVENC, "", "-preset p4"},
		{EncoderLibx264, "", "-preset ultrafast"},
		{EncoderLibx265, "", "-preset ultrafast"},
		{"mpeg4", "", "-preset ultrafast"},
		{EncoderHEVCNVENC, "p7", "-preset p7"},
		{EncoderLibx264, "medium", "-preset medium"},
	} {
		o := testOpts("ffmpeg")
		o.preset = tc.preset
		got := strings.Join(o.encoderArgs(tc.enc), " ")
		if !strings.Contains(got, tc.want) {
			t.Errorf("encoder %s, preset %q: args %q lack %q", tc.enc, tc.preset, got, tc.want)
		}
		if x265 := strings.Contains(got, "-x265-params log-level=error"); x265 != (tc.enc == EncoderLibx265) {
			t.Errorf("encoder %s: args %q: x265-params present %v", tc.enc, got, x265)
		}
	}
	for _, enc := range []string{EncoderNull, EncoderRaw} {
		if got := strings.Join(testOpts("ffmpeg").encoderArgs(enc), " "); strings.Contains(got, "-preset") {
			t.Errorf("encoder %s takes no preset: %q", enc, got)
		}
	}
}
