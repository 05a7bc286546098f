//go:build !cgo || noaravis

package genicam

import (
	"context"
	"errors"
	"testing"
)

func TestNoAravis(t *testing.T) {
	ctx := context.Background()
	if _, err := Discover(ctx, ""); !errors.Is(err, ErrNoAravis) {
		t.Errorf("Discover: %v", err)
	}
	if _, err := OpenSelection(ctx, Selection{Serials: []string{"x"}}); !errors.Is(err, ErrNoAravis) || err.Error() != "camera discovery: built without Aravis: camera support unavailable" {
		t.Errorf("OpenSelection: %v", err)
	}
	if _, err := openAddress(ctx, "10.0.0.1", openConfig{}); !errors.Is(err, ErrNoAravis) {
		t.Errorf("openAddress: %v", err)
	}
	if _, errs := LatchAll(ctx, []*Camera{{}}); !errors.Is(errs[0], ErrNoAravis) {
		t.Errorf("LatchAll: %v", errs)
	}
}
