package record

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// progressDisplay shows the take's progress: a table redrawn in place every
// second on a terminal, or a log line per camera every Every otherwise.
type progressDisplay struct {
	w     io.Writer
	tty   bool
	log   *slog.Logger
	every time.Duration

	lines   int
	lastLog time.Time
	prev    map[string]uint64
	prevAt  time.Time
}

// SetProgress enables the progress output: on a terminal (tty) a table
// redrawn in place, otherwise log lines every interval.
func (r *Recorder) SetProgress(w io.Writer, tty bool, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	r.progress = &progressDisplay{w: w, tty: tty, log: r.log, every: interval, prev: map[string]uint64{}}
}

func (p *progressDisplay) update(r *Recorder, final bool) {
	now := time.Now()
	r.mu.Lock()
	cams := r.cams
	r.mu.Unlock()
	start := time.Unix(0, r.started.Load())
	elapsed := max(0, now.Sub(start))
	dt := now.Sub(p.prevAt).Seconds()
	if !p.tty {
		if !final && now.Sub(p.lastLog) < p.every {
			return
		}
		p.lastLog = now
	}
	var b strings.Builder
	if p.tty {
		if p.lines > 0 {
			fmt.Fprintf(&b, "\x1b[%dA", p.lines)
		}
		fmt.Fprintf(&b, "\x1b[2K%s  %-10s elapsed %s\n", "camrecord", State(r.state.Load()), elapsed.Truncate(time.Second))
		fmt.Fprintf(&b, "\x1b[2K%-12s %8s %8s %8s %8s %8s %10s %6s %s\n", "serial", "fps", "frames", "missing", "dropped", "queue", "size", "speed", "status")
	}
	for _, c := range cams {
		rec := c.received.Load()
		fps := 0.0
		if last, ok := p.prev[c.serial]; ok && dt > 0 {
			fps = float64(rec-last) / dt
		}
		p.prev[c.serial] = rec
		c.mu.Lock()
		pr, err := c.progress, c.err
		c.mu.Unlock()
		dropped := c.dropQueue.Load() + c.dropIncomplete.Load() + c.dropLate.Load()
		status := "ok"
		if err != nil {
			status = "FAILED: " + err.Error()
		}
		if p.tty {
			fmt.Fprintf(&b, "\x1b[2K%-12s %8.1f %8d %8d %8d %8d %10s %5.2fx %s\n", c.serial, fps, c.written.Load(),
				c.missing.Load(), dropped, len(c.queue), humanBytes(pr.TotalSize), pr.Speed, status)
		} else {
			p.log.Info("Progress", "serial", c.serial, "elapsed", elapsed.Truncate(time.Second), "fps", fmt.Sprintf("%.1f", fps),
				"frames_written", c.written.Load(), "missing", c.missing.Load(), "dropped", dropped,
				"queue", len(c.queue), "size_bytes", pr.TotalSize, "speed", pr.Speed, "status", status)
		}
	}
	p.prevAt = now
	if p.tty {
		p.lines = 2 + len(cams)
		_, _ = io.WriteString(p.w, b.String())
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
