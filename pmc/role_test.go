package pmc

import (
	"testing"
)

func TestInferRole(t *testing.T) {
	t.Parallel()
	own := ClockIdentity{1, 2, 3, 0xff, 0xfe, 4, 5, 6}
	other := ClockIdentity{9, 9, 9, 0xff, 0xfe, 9, 9, 9}
	snap := func(steps uint16, gm ClockIdentity, states ...PortState) *Snapshot {
		s := &Snapshot{
			Default: DefaultDataSet{ClockIdentity: own, NumberPorts: uint16(len(states))},
			Current: CurrentDataSet{StepsRemoved: steps},
			Parent:  ParentDataSet{GrandmasterIdentity: gm},
		}
		for i, st := range states {
			s.Ports = append(s.Ports, Port{PortDataSet: PortDataSet{PortIdentity: PortIdentity{own, uint16(i + 1)}, PortState: st}})
		}
		return s
	}
	const (
		ini  = PortStateInitializing
		flt  = PortStateFaulty
		dis  = PortStateDisabled
		lst  = PortStateListening
		pre  = PortStatePreMaster
		mst  = PortStateMaster
		pas  = PortStatePassive
		unc  = PortStateUncalibrated
		slv  = PortStateSlave
		none = PortState(0)
	)
	tests := []struct {
		name string
		s    *Snapshot
		want Role
	}{
		{"nil snapshot", nil, RoleUnknown},
		{"grandmaster", snap(0, own, mst), RoleGrandmaster},
		{"grandmaster in qualification", snap(0, own, pre), RoleGrandmaster},
		{"slave", snap(1, other, slv), RoleSlave},
		{"uncalibrated (free_running)", snap(1, other, unc), RoleUncalibrated},
		{"listening", snap(0, own, lst), RoleListening},
		{"faulty", snap(0, own, flt), RoleFaulty},
		{"disabled", snap(0, own, dis), RoleDisabled},
		{"initializing", snap(0, own, ini), RoleUnknown},
		{"state out of range", snap(0, own, none), RoleUnknown},
		{"passive", snap(0, own, pas), RolePassive},

		// Boundary clocks: several ports.
		{"BC slave port wins over master ports", snap(2, other, mst, slv, mst), RoleSlave},
		{"BC uncalibrated upstream", snap(2, other, unc, mst), RoleUncalibrated},
		{"BC slave and uncalibrated", snap(2, other, unc, slv), RoleSlave},
		{"BC grandmaster on every port", snap(0, own, mst, mst, pre), RoleGrandmaster},
		{"BC grandmaster, one link down", snap(0, own, mst, flt), RoleGrandmaster},
		{"BC grandmaster, one port passive", snap(0, own, mst, pas), RoleGrandmaster},
		{"BC grandmaster, one port still listening", snap(0, own, lst, mst), RoleGrandmaster},
		{"BC master of a foreign GM without slave port", snap(2, other, mst, pas), RoleMaster},
		{"master with stepsRemoved > 0", snap(1, own, mst), RoleMaster},
		{"BC passive and disabled", snap(0, own, pas, dis), RolePassive},
		{"BC listening and faulty", snap(0, own, lst, flt), RoleListening},
		{"BC faulty and disabled", snap(0, own, flt, dis), RoleFaulty},
		{"BC all disabled", snap(0, own, dis, dis), RoleDisabled},
		{"BC all faulty", snap(0, own, flt, flt), RoleFaulty},

		// No port data: the original scripts' stepsRemoved rule.
		{"no ports, stepsRemoved 0, own GM", snap(0, own), RoleGrandmaster},
		{"no ports, stepsRemoved 0, other GM", snap(0, other), RoleUnknown},
		{"no ports, stepsRemoved 1", snap(1, other), RoleSlave},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InferRole(tt.s); got != tt.want {
				t.Errorf("InferRole = %s, want %s", got, tt.want)
			}
		})
	}
}
