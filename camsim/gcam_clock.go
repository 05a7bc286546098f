package camsim

// Device ticks of an impersonated camera: GigE Vision timestamps count at
// the tick frequency of bootstrap 0x093C/0x0940, which the XML constrains.

const (
	nsHz          = 1_000_000_000
	defaultTickHz = 125_000_000 // where the XML leaves the tick open (Basler ace classic's)
)

// ticks converts device ns to ticks.
func (c *camera) ticks(ns uint64) uint64 {
	if c.tickHz == nsHz || c.tickHz == 0 {
		return ns
	}
	return ns/nsHz*c.tickHz + ns%nsHz*c.tickHz/nsHz
}

// tickNS converts ticks to device ns.
func (c *camera) tickNS(t uint64) uint64 {
	if c.tickHz == nsHz || c.tickHz == 0 {
		return t
	}
	return t/c.tickHz*nsHz + t%c.tickHz*nsHz/c.tickHz
}

// latchLocked latches the device clock (TimestampLatch).
func (c *camera) latchLocked() {
	ns := c.clock.Read()
	c.latched = c.ticks(ns)
	c.latches.Add(1)
	c.gc.afterLatchLocked(ns)
}

// tickHzFromXML: a constant GevTimestampTickFrequency; else the ns per
// register unit of a latch value formula in ns (TIS: 1000·((HI<<32)|LO) →
// 1 MHz); else 1 GHz for a latch value in ns; else defaultTickHz.
func (gc *gcCamera) tickHzFromXML() uint64 {
	if name := gc.f["tickFreq"]; name != "" {
		if _, _, err := gc.g.registerOf(name); err != nil {
			if v, err := gc.g.Int(name); err == nil && v > 0 {
				return uint64(v)
			}
		}
	}
	name := gc.f["tsValue"]
	if name == "" || !gc.unitNS(name) {
		return defaultTickHz
	}
	if k := gc.latchScale(name); k > 1 && nsHz%k == 0 {
		return uint64(nsHz / k)
	}
	return nsHz
}

// latchScale is how much the latch value grows per unit of its lowest
// register variable, when it is a formula (0 otherwise).
func (gc *gcCamera) latchScale(name string) int64 {
	g := gc.g
	for range 8 {
		n, err := g.node(name)
		if err != nil {
			return 0
		}
		if n.Kind == "IntSwissKnife" {
			var vars []string
			for _, p := range n.Props["pVariable"] {
				vars = append(vars, p.Text)
			}
			defer func() {
				for _, v := range vars {
					delete(g.override, v)
				}
			}()
			for _, v := range vars {
				g.override[v] = 0
			}
			b, err := g.Int(name)
			if err != nil {
				return 0
			}
			best := int64(0)
			for _, v := range vars {
				g.override[v] = 1
				if x, err := g.Int(name); err == nil && x-b > 0 && (best == 0 || x-b < best) {
					best = x - b
				}
				g.override[v] = 0
			}
			return best
		}
		if !n.has("pValue") {
			return 0
		}
		name = n.prop("pValue")
	}
	return 0
}
