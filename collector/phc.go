package collector

import "time"

// bestOffset picks, of (system before, PHC, system after) triples, the one
// with the narrowest system bracket and returns PHC minus the bracket's
// midpoint and half the bracket. Triples whose bracket runs backwards (the
// system clock stepped) are skipped.
func bestOffset(triples [][3]time.Time) (offset, uncertainty time.Duration, ok bool) {
	best := time.Duration(-1)
	for _, tr := range triples {
		width := tr[2].Sub(tr[0])
		if width < 0 || best >= 0 && width >= best {
			continue
		}
		best = width
		mid := tr[0].Add(width / 2)
		offset, uncertainty = tr[1].Sub(mid), width/2
	}
	return offset, uncertainty, best >= 0
}
