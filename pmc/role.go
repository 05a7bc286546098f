package pmc

import "strconv"

// Role is what a ptp4l instance is doing as a whole, derived from its ports.
type Role int

// Roles, see InferRole for how each is decided.
const (
	RoleUnknown      Role = iota
	RoleGrandmaster       // serves time from its own clock
	RoleSlave             // synchronised to a master (servo locked)
	RoleUncalibrated      // has chosen a master, servo not locked yet
	RoleListening         // waiting for announce messages
	RoleFaulty            // a port is faulty and none does better
	RoleDisabled          // every port is disabled
	RoleMaster            // master on some port, but the grandmaster is another clock
	RolePassive           // every working port is passive
)

var roleNames = [...]string{
	RoleUnknown:      "Unknown",
	RoleGrandmaster:  "Grandmaster",
	RoleSlave:        "Slave",
	RoleUncalibrated: "Uncalibrated",
	RoleListening:    "Listening",
	RoleFaulty:       "Faulty",
	RoleDisabled:     "Disabled",
	RoleMaster:       "Master",
	RolePassive:      "Passive",
}

// String returns the role's name, e.g. "Grandmaster".
func (r Role) String() string {
	if r >= 0 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// AllRoles lists every role, for state-set metrics.
func AllRoles() []Role {
	out := make([]Role, len(roleNames))
	for i := range out {
		out[i] = Role(i)
	}
	return out
}

// InferRole decides the role of the clock behind a snapshot. It is a pure
// function of the snapshot.
//
// With port data, the first rule that matches wins:
//  1. any port SLAVE: Slave.
//  2. any port UNCALIBRATED: Uncalibrated (with free_running or an unlocked
//     servo ptp4l never leaves it).
//  3. any port MASTER or PRE_MASTER: Grandmaster if stepsRemoved is 0 and the
//     parent dataset names this clock as grandmaster, else Master (a boundary
//     clock relaying a foreign grandmaster). Other ports of a grandmaster may
//     be LISTENING, FAULTY, DISABLED or PASSIVE: it still serves its own time.
//  4. every port that is not DISABLED or FAULTY is PASSIVE: Passive.
//  5. any port LISTENING: Listening.
//  6. any port FAULTY: Faulty.
//  7. every port DISABLED: Disabled.
//  8. otherwise (INITIALIZING, unknown states): Unknown.
//
// Without port data it falls back to the original scripts' rule, which
// cannot tell a grandmaster from a clock that is still listening:
// stepsRemoved 0 and the grandmaster is this clock gives Grandmaster,
// stepsRemoved > 0 gives Slave, anything else Unknown.
func InferRole(s *Snapshot) Role {
	if s == nil {
		return RoleUnknown
	}
	own := s.Default.ClockIdentity
	selfGM := s.Current.StepsRemoved == 0 && s.Parent.GrandmasterIdentity == own
	if len(s.Ports) == 0 {
		switch {
		case selfGM:
			return RoleGrandmaster
		case s.Current.StepsRemoved > 0:
			return RoleSlave
		}
		return RoleUnknown
	}
	count := map[PortState]int{}
	for _, p := range s.Ports {
		count[p.PortState]++
	}
	working := len(s.Ports) - count[PortStateDisabled] - count[PortStateFaulty]
	switch {
	case count[PortStateSlave] > 0:
		return RoleSlave
	case count[PortStateUncalibrated] > 0:
		return RoleUncalibrated
	case count[PortStateMaster]+count[PortStatePreMaster] > 0:
		if selfGM {
			return RoleGrandmaster
		}
		return RoleMaster
	case working > 0 && count[PortStatePassive] == working:
		return RolePassive
	case count[PortStateListening] > 0:
		return RoleListening
	case count[PortStateFaulty] > 0:
		return RoleFaulty
	case count[PortStateDisabled] == len(s.Ports):
		return RoleDisabled
	}
	return RoleUnknown
}
