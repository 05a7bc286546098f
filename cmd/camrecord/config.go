// --config: the YAML rig file (flags, rig defaults, per-camera settings),
// and the older flat `name = value` file it replaces.

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"go.yaml.in/yaml/v3"

	"github.com/ptpcam/ptpcam/genicam"
	"github.com/ptpcam/ptpcam/record"
)

// cameraEntry is the config's defaults or one camera of its cameras list.
type cameraEntry struct {
	line         int
	serial, name string
	width        *int
	height       *int
	pixelFormat  *string
	fps          *float64
	offsetX      *int64
	offsetY      *int64
	exposure     *float64
	gain         *float64
	features     []record.Feature
}

// rigConfig is a YAML --config file.
type rigConfig struct {
	path     string
	flat     bool // the deprecated flat format: flags only
	defaults cameraEntry
	cameras  []cameraEntry
}

var (
	topKeys      = []string{"flags", "defaults", "cameras"}
	defaultsKeys = []string{"width", "height", "pixel_format", "fps", "offset_x", "offset_y", "exposure", "gain", "features"}
	cameraKeys   = append([]string{"serial", "name"}, defaultsKeys...)
	flatLine     = regexp.MustCompile(`^(--)?[A-Za-z][\w.-]*\s*=`)
)

// configPath is --config's value, found in args before parsing.
func configPath(args []string) string {
	path := ""
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			path = v
		} else if a == "--config" && i+1 < len(args) {
			path = args[i+1]
		}
	}
	return path
}

// applyConfigFile reads --config and makes its values the flags' defaults,
// so that the command line still overrides them.
func applyConfigFile(app *kingpin.Application, args []string) error {
	_, err := loadConfig(app, args)
	return err
}

// loadConfig reads --config (nil without one): a YAML rig file, or a flat
// `name = value` file (its first line that is no comment is `name =`;
// deprecated: flags only).
func loadConfig(app *kingpin.Application, args []string) (*rigConfig, error) {
	path := configPath(args)
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	if isFlat(data) {
		return &rigConfig{path: path, flat: true}, applyFlat(app, path, data)
	}
	rc, err := parseRig(path, data)
	if err != nil {
		return nil, err
	}
	return rc, rc.applyFlags(app, data)
}

// isFlat reports whether the file is the flat format: its first line that
// is no comment or blank is `name = value`.
func isFlat(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		return flatLine.MatchString(line)
	}
	return false
}

// applyFlat reads the flat format: one `name = value` per line.
func applyFlat(app *kingpin.Application, path string, data []byte) error {
	fs := &flagSetter{app: app, path: path, values: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimPrefix(strings.TrimSpace(k), "--")
		if !ok || k == "" {
			return fmt.Errorf("config %s:%d: want `name = value`, got %q", path, n, line)
		}
		if err := fs.add(n, k, strings.Trim(strings.TrimSpace(v), `"`)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	fs.apply()
	return nil
}

// flagSetter collects flag values of a config file, in order, to make them
// the flags' defaults.
type flagSetter struct {
	app    *kingpin.Application
	path   string
	values map[string][]string
	order  []string
}

func (fs *flagSetter) add(line int, k, v string) error {
	if base, ok := strings.CutPrefix(k, "no-"); ok && fs.app.GetFlag(k) == nil && fs.app.GetFlag(base) != nil {
		// no-align = true is align = false.
		k, v = base, strconv.FormatBool(v == "false")
	}
	if k == "serial" {
		k = "camera.serial" // its alias: one list, which the command line overrides
	}
	if k == "config" || fs.app.GetFlag(k) == nil {
		return fmt.Errorf("config %s:%d: unknown flag %q", fs.path, line, k)
	}
	if _, seen := fs.values[k]; !seen {
		fs.order = append(fs.order, k)
	}
	fs.values[k] = append(fs.values[k], v)
	return nil
}

func (fs *flagSetter) apply() {
	for _, k := range fs.order {
		fs.app.GetFlag(k).Default(fs.values[k]...)
	}
}

// parseRig parses a YAML rig file strictly: every key known, every value of
// its type, errors with the file's line.
func parseRig(path string, data []byte) (*rigConfig, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	rc := &rigConfig{path: path}
	if len(doc.Content) == 0 {
		return rc, nil
	}
	top := doc.Content[0]
	err := rc.eachKey(top, "the file", topKeys, func(k string, v *yaml.Node) error {
		switch k {
		case "defaults":
			e, err := rc.entry(v, "defaults", defaultsKeys)
			rc.defaults = e
			return err
		case "cameras":
			return rc.parseCameras(v)
		}
		return nil // flags: applied by applyFlags
	})
	return rc, err
}

func (rc *rigConfig) errorf(n *yaml.Node, format string, a ...any) error {
	return fmt.Errorf("config %s:%d: %s", rc.path, n.Line, fmt.Sprintf(format, a...))
}

// eachKey calls f for every key of a mapping, refusing keys not in allowed
// and keys given twice.
func (rc *rigConfig) eachKey(n *yaml.Node, where string, allowed []string, f func(k string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return rc.errorf(n, "%s: want a mapping of %s", where, strings.Join(allowed, ", "))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			return rc.errorf(k, "unknown key %q in %s (allowed: %s)", k.Value, where, strings.Join(allowed, ", "))
		}
		if seen[k.Value] {
			return rc.errorf(k, "%q given twice in %s", k.Value, where)
		}
		seen[k.Value] = true
		if err := f(k.Value, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func (rc *rigConfig) parseCameras(v *yaml.Node) error {
	if v.Kind != yaml.SequenceNode {
		return rc.errorf(v, "cameras: want a list of cameras (- serial: ...)")
	}
	serials, names := map[string]int{}, map[string]int{}
	for i, n := range v.Content {
		e, err := rc.entry(n, fmt.Sprintf("cameras[%d]", i), cameraKeys)
		if err != nil {
			return err
		}
		if e.serial == "" {
			return rc.errorf(n, "cameras[%d]: no serial (each camera is chosen by its serial)", i)
		}
		if l, ok := serials[e.serial]; ok {
			return rc.errorf(n, "cameras[%d]: serial %q already given on line %d", i, e.serial, l)
		}
		if l, ok := names[e.name]; ok && e.name != "" {
			return rc.errorf(n, "cameras[%d]: name %q already given on line %d", i, e.name, l)
		}
		serials[e.serial], names[e.name] = n.Line, n.Line
		rc.cameras = append(rc.cameras, e)
	}
	return nil
}

// entry parses the defaults or one camera.
func (rc *rigConfig) entry(n *yaml.Node, where string, allowed []string) (cameraEntry, error) {
	e := cameraEntry{line: n.Line}
	err := rc.eachKey(n, where, allowed, func(k string, v *yaml.Node) error {
		if k == "features" {
			return rc.eachKey(v, where+".features", nil, func(name string, fv *yaml.Node) error {
				if fv.Kind != yaml.ScalarNode {
					return rc.errorf(fv, "%s.features.%s: want one value", where, name)
				}
				e.features = append(e.features, record.Feature{Name: name, Value: fv.Value})
				return nil
			})
		}
		if v.Kind != yaml.ScalarNode {
			return rc.errorf(v, "%s.%s: want one value", where, k)
		}
		var err error
		switch k {
		case "serial":
			e.serial = v.Value
		case "name":
			e.name = v.Value
		case "pixel_format":
			e.pixelFormat = &v.Value
		case "width":
			e.width, err = decode[int](v)
		case "height":
			e.height, err = decode[int](v)
		case "offset_x":
			e.offsetX, err = decode[int64](v)
		case "offset_y":
			e.offsetY, err = decode[int64](v)
		case "fps":
			e.fps, err = decode[float64](v)
		case "exposure":
			e.exposure, err = decode[float64](v)
		case "gain":
			e.gain, err = decode[float64](v)
		}
		if err != nil {
			return rc.errorf(v, "%s.%s %q: %v", where, k, v.Value, err)
		}
		return nil
	})
	return e, err
}

func decode[T any](v *yaml.Node) (*T, error) {
	var x T
	if err := v.Decode(&x); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("want a %T", x)
		}
		return nil, err
	}
	return &x, nil
}

// applyFlags makes the file's flags: mapping and the take's defaults
// (width, height, pixel_format, fps) the flags' defaults, and the cameras'
// serials the selection unless flags: selects cameras itself.
func (rc *rigConfig) applyFlags(app *kingpin.Application, data []byte) error {
	var doc yaml.Node
	_ = yaml.Unmarshal(data, &doc) // parsed before
	fs := &flagSetter{app: app, path: rc.path, values: map[string][]string{}}
	if len(doc.Content) > 0 {
		err := rc.eachKey(doc.Content[0], "the file", topKeys, func(k string, v *yaml.Node) error {
			if k != "flags" {
				return nil
			}
			return rc.eachKey(v, "flags", nil, func(name string, fv *yaml.Node) error {
				vals := []*yaml.Node{fv}
				if fv.Kind == yaml.SequenceNode {
					vals = fv.Content
				}
				for _, x := range vals {
					if x.Kind != yaml.ScalarNode {
						return rc.errorf(x, "flags.%s: want a value or a list of values", name)
					}
					if err := fs.add(x.Line, name, x.Value); err != nil {
						return err
					}
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	d := rc.defaults
	for _, f := range []struct {
		flag string
		v    string
		set  bool
	}{
		{"width", fmtPtr(d.width), d.width != nil}, {"height", fmtPtr(d.height), d.height != nil},
		{"pixel-format", fmtPtr(d.pixelFormat), d.pixelFormat != nil}, {"fps", fmtPtr(d.fps), d.fps != nil},
	} {
		if !f.set {
			continue
		}
		if _, dup := fs.values[f.flag]; dup {
			return fmt.Errorf("config %s:%d: defaults and flags both set %s: give it once", rc.path, d.line, f.flag)
		}
		if err := fs.add(d.line, f.flag, f.v); err != nil {
			return err
		}
	}
	if _, sel := fs.values["camera.serial"]; !sel {
		for _, c := range rc.cameras {
			_ = fs.add(c.line, "camera.serial", c.serial)
		}
	}
	fs.apply()
	return nil
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}

// cameraSettings is every camera's settings: the config's defaults, then
// its entry for the camera, then --camera.feature, which overrides a
// feature of the same name. A camera entry's size, format or rate must be
// the take's: every camera of a take records one.
func (o *options) cameraSettings(serials []string) (map[string]record.CameraSettings, error) {
	var cli []record.Feature
	for _, f := range *o.features {
		k, v, ok := strings.Cut(f, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--camera.feature %q: want NAME=VALUE (a GenICam feature, e.g. ExposureAuto=Off)", f)
		}
		cli = append(cli, record.Feature{Name: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	rc := o.config
	if rc == nil {
		rc = &rigConfig{}
	}
	byserial := map[string]cameraEntry{}
	for _, c := range rc.cameras {
		if err := o.sameTake(rc, c); err != nil {
			return nil, err
		}
		byserial[c.serial] = c
	}
	out := map[string]record.CameraSettings{}
	for _, s := range serials {
		d, c := rc.defaults, byserial[s]
		// The camera's own features (and --camera.feature) beat a
		// default exposure, gain or offset of the same feature.
		own := append(slices.Clone(c.features), cli...)
		for _, k := range []struct {
			def   **float64
			names []string
		}{{&d.exposure, []string{"ExposureTime", "ExposureTimeAbs"}}, {&d.gain, []string{"Gain", "GainRaw"}}} {
			if slices.ContainsFunc(own, func(f record.Feature) bool { return slices.Contains(k.names, f.Name) }) {
				*k.def = nil
			}
		}
		for _, k := range []struct {
			def  **int64
			name string
		}{{&d.offsetX, "OffsetX"}, {&d.offsetY, "OffsetY"}} {
			if slices.ContainsFunc(own, func(f record.Feature) bool { return f.Name == k.name }) {
				*k.def = nil
			}
		}
		cs := record.CameraSettings{Name: c.name, OffsetX: first(c.offsetX, d.offsetX), OffsetY: first(c.offsetY, d.offsetY),
			Exposure: first(c.exposure, d.exposure), Gain: first(c.gain, d.gain)}
		for _, fs := range [][]record.Feature{d.features, c.features, cli} {
			for _, f := range fs {
				if i := slices.IndexFunc(cs.Features, func(g record.Feature) bool { return g.Name == f.Name }); i >= 0 {
					cs.Features[i].Value = f.Value
				} else {
					cs.Features = append(cs.Features, f)
				}
			}
		}
		out[s] = cs
	}
	return out, nil
}

func first[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

// sameTake refuses a camera entry whose size, format or rate differs from
// the take's.
func (o *options) sameTake(rc *rigConfig, c cameraEntry) error {
	for _, f := range []struct {
		key       string
		set, same bool
		v, take   string
	}{
		{"width", c.width != nil, c.width == nil || *c.width == *o.width, fmtPtr(c.width), strconv.Itoa(*o.width)},
		{"height", c.height != nil, c.height == nil || *c.height == *o.height, fmtPtr(c.height), strconv.Itoa(*o.height)},
		{"pixel_format", c.pixelFormat != nil, c.pixelFormat == nil || *c.pixelFormat == *o.pixFmt, fmtPtr(c.pixelFormat), *o.pixFmt},
		{"fps", c.fps != nil, c.fps == nil || *c.fps == *o.fps, fmtPtr(c.fps), fmt.Sprint(*o.fps)},
	} {
		if f.set && !f.same {
			return fmt.Errorf("config %s:%d: camera %s: %s %s differs from the take's %s: every camera of a take records one size, pixel format and rate (set it under defaults or on the command line)",
				rc.path, c.line, c.serial, f.key, f.v, f.take)
		}
	}
	return nil
}

// applySettings checks every camera's settings against it, then applies
// and reads them back for the session file; a bad one fails before any
// camera is changed.
func applySettings(ctx context.Context, o *options, rec *record.Recorder, cams []*genicam.Camera) error {
	serials := make([]string, len(cams))
	sc := make([]record.SettingsCamera, len(cams))
	for i, c := range cams {
		serials[i], sc[i] = c.Serial(), c
	}
	settings, err := o.cameraSettings(serials)
	if err != nil {
		return err
	}
	devs, err := record.ApplySettings(ctx, sc, genicam.Acquisition{Width: *o.width, Height: *o.height,
		PixelFormat: *o.pixFmt, FrameRate: *o.fps}, settings)
	if err != nil {
		return err
	}
	rec.SetDevices(devs)
	return nil
}
