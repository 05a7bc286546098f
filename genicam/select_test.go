package genicam

import (
	"slices"
	"testing"
)

func TestSelection(t *testing.T) {
	t.Parallel()
	devs := []DeviceInfo{{Serial: "c", Address: "10.0.0.3"}, {Serial: "a", Address: "10.0.0.1"}, {Serial: "b", Address: "10.0.0.2"}}
	serials := func(ds []DeviceInfo) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Serial)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		sel     Selection
		devs    []DeviceInfo
		want    []string
		wantErr string
	}{
		{name: "all by serial", sel: Selection{}, devs: devs, want: []string{"a", "b", "c"}},
		{name: "max", sel: Selection{Max: 2}, devs: devs, want: []string{"a", "b"}},
		{name: "serials in their order", sel: Selection{Serials: []string{"c", "a"}, Max: 1}, devs: devs, want: []string{"c", "a"}},
		{name: "unknown serials", sel: Selection{Serials: []string{"x", "a", "y"}}, devs: devs,
			wantErr: "camera x, y not found; found 3 camera(s): a, b, c"},
		{name: "unknown on an interface", sel: Selection{Serials: []string{"x"}, Interface: "ptp0"},
			wantErr: "camera x not found; found 0 camera(s) on ptp0: none"},
		{name: "none", sel: Selection{Interface: "ptp0"}, wantErr: "no camera found on ptp0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.sel.Pick(tc.devs)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(serials(got), tc.want) {
				t.Errorf("picked %v, %v; want %v", serials(got), err, tc.want)
			}
		})
	}
	if _, missing := (Selection{Serials: []string{"b", "z"}}).Match(devs); !slices.Equal(missing, []string{"z"}) {
		t.Errorf("Match missing %v, want [z]", missing)
	}
	if devs[0].Serial != "c" {
		t.Error("Match reordered its input")
	}
}

func TestSelectionValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sel  Selection
		want string
	}{
		{Selection{Serials: []string{"a", ""}}, "camera serial: empty"},
		{Selection{Serials: []string{"a b"}}, `camera serial "a b": contains a space, comma or slash`},
		{Selection{Serials: []string{"a,b"}}, `camera serial "a,b": contains a space, comma or slash`},
		{Selection{Serials: []string{"a", "b", "a"}}, "camera serial a given twice"},
		{Selection{Max: -1}, "camera max -1: must be >= 0"},
		{Selection{Serials: []string{"a", "b"}, Max: 8}, ""},
	} {
		err := tc.sel.Validate()
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.want {
				t.Errorf("%+v: %q, want %q", tc.sel, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("%+v: no error, want %q", tc.sel, tc.want)
		}
	}
}
