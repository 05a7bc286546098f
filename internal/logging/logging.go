// Package logging builds the *slog.Logger of ptpcam's commands from the
// standard promslog flags (--log.level, --log.format), writing through
// go-kit/log like the rest of the Prometheus ecosystem's exporters.
package logging

import (
	"log/slog"
	"os"

	kitlog "github.com/go-kit/log"
	"github.com/prometheus/common/promslog"
	sloggokit "github.com/tjhop/slog-gokit"
)

// New returns a logger for cfg writing to stderr. The slog-gokit handler adds
// the time itself, so no go-kit "ts" valuer is added here.
func New(cfg *promslog.Config) *slog.Logger {
	w := kitlog.NewSyncWriter(os.Stderr)
	var gk kitlog.Logger
	if cfg.Format != nil && cfg.Format.String() == "json" {
		gk = kitlog.NewJSONLogger(w)
	} else {
		gk = kitlog.NewLogfmtLogger(w)
	}
	var level slog.Leveler = slog.LevelInfo
	if cfg.Level != nil {
		level = cfg.Level
	}
	return slog.New(sloggokit.NewGoKitHandler(gk, level))
}
