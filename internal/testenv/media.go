package testenv

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// VideoFrames is the number of frames ffprobe decodes from the first video
// stream of file (-count_frames): what a player would show, not what the
// container's header claims.
func VideoFrames(t testing.TB, file string) int {
	t.Helper()
	RequireTool(t, "ffprobe")
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(first)
	if err != nil {
		t.Fatalf("ffprobe %s: frame count %q: %v", file, out, err)
	}
	return n
}
