package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]bool{}
)

// binDir returns Build's directory, creating it first. buildMu must be held.
func binDir(t testing.TB) string {
	t.Helper()
	if buildDir == "" {
		d, err := os.MkdirTemp("", "ptpcam-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	return buildDir
}

// goBuild runs go build in the module root.
func goBuild(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = ModuleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Build compiles the module's commands (directory names under cmd/, e.g.
// "camsim") into one directory per test process and returns it. Each command
// is built once.
func Build(t testing.TB, cmds ...string) string {
	t.Helper()
	RequireTool(t, "go")
	buildMu.Lock()
	defer buildMu.Unlock()
	dir := binDir(t)
	var todo []string
	for _, c := range cmds {
		if !built[c] {
			todo = append(todo, "./cmd/"+c)
		}
	}
	if len(todo) > 0 {
		goBuild(t, append([]string{"-o", dir + "/"}, todo...)...)
		for _, c := range cmds {
			built[c] = true
		}
	}
	return dir
}

// BuildWith compiles one of the module's commands with extra go build flags
// (-tags noaravis, -ldflags "-X ...") into Build's directory as the binary
// name, and returns its path. Each name is built once per test process, so
// one name must always come with the same flags.
func BuildWith(t testing.TB, name, cmd string, flags ...string) string {
	t.Helper()
	RequireTool(t, "go")
	if name == "" || strings.ContainsRune(name, '/') {
		t.Fatalf("testenv.BuildWith: binary name %q: want a file name", name)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	bin := filepath.Join(binDir(t), name)
	key := "with:" + name
	if !built[key] {
		goBuild(t, append(append([]string{"-o", bin}, flags...), "./cmd/"+cmd)...)
		built[key] = true
	}
	return bin
}

// CleanupBuild removes Build's directory; call it from TestMain after m.Run.
func CleanupBuild() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Main runs the package's tests and removes Build's directory: a package
// whose tests build binaries has func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	CleanupBuild()
	os.Exit(code)
}
