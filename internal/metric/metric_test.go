package metric

import "testing"

func TestBool(t *testing.T) {
	t.Parallel()
	if Bool(true) != 1 || Bool(false) != 0 {
		t.Errorf("Bool(true), Bool(false) = %v, %v; want 1, 0", Bool(true), Bool(false))
	}
}
