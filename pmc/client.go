package pmc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultSocket is ptp4l's default management socket (uds_address).
const DefaultSocket = "/var/run/ptp4l"

// DefaultTimeout bounds one exchange when Config.Timeout is zero.
const DefaultTimeout = time.Second

// ErrTimeout is wrapped by the error returned when ptp4l did not answer in
// time. ptp4l drops requests for another domain without a word, so the
// message suggests checking the domain.
var ErrTimeout = errors.New("no reply")

// Config says which ptp4l to ask and how.
type Config struct {
	// Socket is ptp4l's management socket path (uds_address); DefaultSocket if empty.
	Socket string
	// Domain is ptp4l's domainNumber; requests for another domain are dropped.
	Domain uint8
	// TransportSpecific is the header's transportSpecific nibble (0..15);
	// it matters only when ptp4l runs with match_transport_specific (gPTP: 1).
	TransportSpecific uint8
	// Timeout bounds each exchange: one request, or one batch (Snapshot,
	// PortDataSets). DefaultTimeout if zero. A context deadline that comes
	// sooner wins.
	Timeout time.Duration
	// ClientDir is where the private directory holding the client's socket is
	// created; os.TempDir() if empty. The socket path must fit in 107 bytes.
	ClientDir string
}

// Client asks one ptp4l instance for its datasets. It is safe for concurrent
// use; exchanges are serialised on its one socket.
type Client struct {
	cfg    Config
	server *net.UnixAddr
	dir    string // private directory holding the socket
	path   string // client socket path

	mu     sync.Mutex // guards everything below and the socket's read deadline
	conn   *net.UnixConn
	seq    uint16
	source PortIdentity
	rbuf   []byte
	wbuf   []byte
	closed bool
}

// Dial binds the client's socket at a fresh path inside a new private (0700)
// directory. It does not contact ptp4l, so it works before ptp4l is up;
// requests fail quickly with an error naming the socket while ptp4l is down,
// and work again once it is back.
func Dial(cfg Config) (*Client, error) {
	if cfg.Socket == "" {
		cfg.Socket = DefaultSocket
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TransportSpecific > 0x0f {
		return nil, fmt.Errorf("pmc: transportSpecific %d does not fit in 4 bits", cfg.TransportSpecific)
	}
	parent := cfg.ClientDir
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "ptpcam-pmc-") // mode 0700
	if err != nil {
		return nil, fmt.Errorf("pmc: client socket directory in %s: %w", parent, err)
	}
	path := filepath.Join(dir, "pmc.sock")
	// sun_path holds 108 bytes including the terminating NUL; a longer path
	// would be truncated by the kernel or refused, so say so here.
	if len(path) > 107 {
		os.Remove(dir)
		return nil, fmt.Errorf("pmc: client socket path %s is %d bytes, longer than a Unix socket allows (107)", path, len(path))
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("pmc: bind client socket %s: %w", path, err)
	}
	return &Client{
		cfg:    cfg,
		server: &net.UnixAddr{Name: cfg.Socket, Net: "unixgram"},
		dir:    dir,
		path:   path,
		conn:   conn,
		// pmc uses a zero clockIdentity and its pid as port number for UDS
		// clients; ptp4l copies it into the answer's targetPortIdentity.
		source: PortIdentity{PortNumber: uint16(os.Getpid())},
		rbuf:   make([]byte, 64*1024), // larger than any datagram ptp4l sends, so nothing is cut
	}, nil
}

// Socket returns the ptp4l management socket path the client asks.
func (c *Client) Socket() string { return c.cfg.Socket }

// LocalPath returns the path of the client's own socket.
func (c *Client) LocalPath() string { return c.path }

// Close closes the socket and removes its file and private directory.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.conn.Close()
	if rerr := os.Remove(c.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	if rerr := os.Remove(c.dir); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("pmc: close client socket %s: %w", c.path, err)
	}
	return nil
}

// call is one GET in an exchange and the state of its answers.
type call struct {
	id  ManagementID
	seq uint16
	// want is the number of answers to wait for; -1 until a DEFAULT_DATA_SET
	// answer in the same exchange tells the number of ports.
	want   int
	got    int
	handle func(data []byte) error // decodes one answer's dataField
	err    *ManagementError
}

func (cl *call) done() bool { return cl.err != nil || (cl.want >= 0 && cl.got >= cl.want) }

// exchange sends every call's GET at once and reads answers until each call
// is done, the timeout passes, or ctx ends. Answers whose sequenceId belongs
// to none of the calls (late answers to an earlier, timed-out exchange) are
// dropped.
func (c *Client) exchange(ctx context.Context, calls []*call) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("pmc %s: client is closed", c.cfg.Socket)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pmc %s: %w", c.cfg.Socket, err)
	}
	release, err := c.armDeadline(ctx)
	if err != nil {
		return err
	}
	defer release()
	bySeq, err := c.send(calls)
	if err != nil {
		return err
	}
	for pending(calls) {
		n, err := c.conn.Read(c.rbuf)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("pmc %s: %w", c.cfg.Socket, cerr)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return c.timeoutError(calls)
			}
			return fmt.Errorf("pmc %s: receive: %w", c.cfg.Socket, err)
		}
		if err := c.accept(c.rbuf[:n], calls, bySeq); err != nil {
			return err
		}
	}
	return nil
}

// armDeadline sets the socket's read deadline to the sooner of the timeout
// and ctx's deadline, and makes ctx's cancellation wake a blocked read. The
// returned release waits for that callback to finish, so it cannot touch the
// deadline of the next exchange. c.mu must be held.
func (c *Client) armDeadline(ctx context.Context) (release func(), err error) {
	deadline := time.Now().Add(c.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.conn.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("pmc %s: set deadline: %w", c.cfg.Socket, err)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.conn.SetReadDeadline(time.Unix(1, 0))
		close(fired)
	})
	return func() {
		if !stop() {
			<-fired
		}
	}, nil
}

// send numbers the calls with fresh sequenceIds and sends their GETs. c.mu
// must be held.
func (c *Client) send(calls []*call) (map[uint16]*call, error) {
	bySeq := make(map[uint16]*call, len(calls))
	for _, cl := range calls {
		c.seq++
		cl.seq = c.seq
		bySeq[cl.seq] = cl
		c.wbuf = appendGet(c.wbuf[:0], getRequest{
			TransportSpecific: c.cfg.TransportSpecific,
			Domain:            c.cfg.Domain,
			Source:            c.source,
			SequenceID:        cl.seq,
			ID:                cl.id,
		})
		if _, err := c.conn.WriteToUnix(c.wbuf, c.server); err != nil {
			return nil, fmt.Errorf("pmc %s: send GET %s: %w", c.cfg.Socket, cl.id, err)
		}
	}
	return bySeq, nil
}

// accept decodes one datagram and hands it to its call. A DEFAULT_DATA_SET
// answer tells the calls still waiting for a port count how many answers to
// expect.
func (c *Client) accept(b []byte, calls []*call, bySeq map[uint16]*call) error {
	m, err := decodeMessage(b)
	if err != nil {
		return fmt.Errorf("pmc %s: answer of %d bytes: %w", c.cfg.Socket, len(b), err)
	}
	cl := bySeq[m.SequenceID]
	if cl == nil || cl.done() || m.ID != cl.id || (m.Action != actionResponse && m.Action != actionAcknowledge) {
		return nil // stale, duplicate or not an answer
	}
	if m.Err != nil {
		cl.err = m.Err
		return nil
	}
	if err := cl.handle(m.Data); err != nil {
		return fmt.Errorf("pmc %s: GET %s answer: %w", c.cfg.Socket, cl.id, err)
	}
	cl.got++
	if cl.id != IDDefaultDataSet {
		return nil
	}
	var d DefaultDataSet
	if d.UnmarshalBinary(m.Data) == nil {
		for _, o := range calls {
			if o.want < 0 {
				o.want = int(d.NumberPorts)
			}
		}
	}
	return nil
}

func pending(calls []*call) bool {
	for _, cl := range calls {
		if !cl.done() {
			return true
		}
	}
	return false
}

func (c *Client) timeoutError(calls []*call) error {
	var missing []string
	for _, cl := range calls {
		if cl.done() {
			continue
		}
		s := cl.id.String()
		if cl.want > 1 || cl.got > 0 {
			s += fmt.Sprintf(" (%d of %d answers)", cl.got, cl.want)
		}
		missing = append(missing, s)
	}
	return fmt.Errorf("pmc %s: %w to GET %s within %s (ptp4l silently drops requests for another domain: check domain, this client asks domain %d)",
		c.cfg.Socket, ErrTimeout, strings.Join(missing, ", "), c.cfg.Timeout, c.cfg.Domain)
}

// managementError turns an error answer into the returned error, wrapping
// the *ManagementError so errors.As finds it.
func (c *Client) managementError(err *ManagementError) error {
	return fmt.Errorf("pmc %s: %w", c.cfg.Socket, err)
}

type unmarshaler[T any] interface {
	*T
	UnmarshalBinary([]byte) error
}

// get asks for one clock-wide dataset.
func get[T any, PT unmarshaler[T]](ctx context.Context, c *Client, id ManagementID) (T, error) {
	var v T
	cl := &call{id: id, want: 1, handle: PT(&v).UnmarshalBinary}
	if err := c.exchange(ctx, []*call{cl}); err != nil {
		return v, err
	}
	if cl.err != nil {
		return v, c.managementError(cl.err)
	}
	return v, nil
}

// DefaultDataSet asks for DEFAULT_DATA_SET.
func (c *Client) DefaultDataSet(ctx context.Context) (DefaultDataSet, error) {
	return get[DefaultDataSet](ctx, c, IDDefaultDataSet)
}

// CurrentDataSet asks for CURRENT_DATA_SET.
func (c *Client) CurrentDataSet(ctx context.Context) (CurrentDataSet, error) {
	return get[CurrentDataSet](ctx, c, IDCurrentDataSet)
}

// ParentDataSet asks for PARENT_DATA_SET.
func (c *Client) ParentDataSet(ctx context.Context) (ParentDataSet, error) {
	return get[ParentDataSet](ctx, c, IDParentDataSet)
}

// TimePropertiesDataSet asks for TIME_PROPERTIES_DATA_SET.
func (c *Client) TimePropertiesDataSet(ctx context.Context) (TimePropertiesDataSet, error) {
	return get[TimePropertiesDataSet](ctx, c, IDTimePropertiesDataSet)
}

// TimeStatusNP asks for TIME_STATUS_NP.
func (c *Client) TimeStatusNP(ctx context.Context) (TimeStatusNP, error) {
	return get[TimeStatusNP](ctx, c, IDTimeStatusNP)
}

// GrandmasterSettingsNP asks for GRANDMASTER_SETTINGS_NP.
func (c *Client) GrandmasterSettingsNP(ctx context.Context) (GrandmasterSettingsNP, error) {
	return get[GrandmasterSettingsNP](ctx, c, IDGrandmasterSettingsNP)
}

// portCall builds a wildcard GET that collects one answer per port into out.
func portCall[T any, PT unmarshaler[T]](id ManagementID, want int, out *[]T) *call {
	return &call{id: id, want: want, handle: func(b []byte) error {
		var v T
		if err := PT(&v).UnmarshalBinary(b); err != nil {
			return err
		}
		*out = append(*out, v)
		return nil
	}}
}

// portsOf sends one wildcard GET and gathers an answer from every port. With
// numberPorts <= 0 it asks DEFAULT_DATA_SET in the same batch to learn it.
func portsOf[T any, PT unmarshaler[T]](ctx context.Context, c *Client, id ManagementID, numberPorts int, port func(*T) uint16) ([]T, error) {
	var out []T
	want := numberPorts
	calls := []*call{}
	if numberPorts <= 0 {
		want = -1
		calls = append(calls, &call{id: IDDefaultDataSet, want: 1, handle: func([]byte) error { return nil }})
	}
	pc := portCall[T, PT](id, want, &out)
	calls = append(calls, pc)
	err := c.exchange(ctx, calls)
	slices.SortFunc(out, func(a, b T) int { return int(port(&a)) - int(port(&b)) })
	if err != nil {
		return out, err
	}
	for _, cl := range calls {
		if cl.err != nil {
			return out, c.managementError(cl.err)
		}
	}
	return out, nil
}

// PortDataSets sends one PORT_DATA_SET GET to all ports and returns every
// port's answer, sorted by port number. It waits until numberPorts ports
// answered (DEFAULT_DATA_SET's NumberPorts; pass 0 to have it asked in the
// same batch) or the timeout passed; on a timeout it returns the answers
// that did come with the error.
func (c *Client) PortDataSets(ctx context.Context, numberPorts int) ([]PortDataSet, error) {
	return portsOf[PortDataSet](ctx, c, IDPortDataSet, numberPorts, func(p *PortDataSet) uint16 { return p.PortIdentity.PortNumber })
}

// PortPropertiesNP is PortDataSets for PORT_PROPERTIES_NP, which carries each
// port's interface name.
func (c *Client) PortPropertiesNP(ctx context.Context, numberPorts int) ([]PortPropertiesNP, error) {
	return portsOf[PortPropertiesNP](ctx, c, IDPortPropertiesNP, numberPorts, func(p *PortPropertiesNP) uint16 { return p.PortIdentity.PortNumber })
}

// Port is one port's dataset with its network interface.
type Port struct {
	PortDataSet
	Interface string // from PORT_PROPERTIES_NP; empty if that port did not say
}

// Snapshot is everything an exporter reads from one ptp4l in one exchange.
type Snapshot struct {
	Default        DefaultDataSet
	Current        CurrentDataSet
	Parent         ParentDataSet
	TimeProperties TimePropertiesDataSet
	TimeStatus     TimeStatusNP
	// GrandmasterSettings is nil when ptp4l answered GRANDMASTER_SETTINGS_NP
	// with a management error (a ptp4l without that TLV); ptp4l 3.1.1 always
	// answers it, grandmaster or not.
	GrandmasterSettings *GrandmasterSettingsNP
	// Ports holds one entry per port, sorted by port number.
	Ports []Port
}

// Snapshot sends all its GETs at once (six clock datasets, and a wildcard
// PORT_DATA_SET and PORT_PROPERTIES_NP) and returns as soon as every answer
// is in: the port answers are counted against DEFAULT_DATA_SET's numberPorts,
// so no fixed wait is involved. Any missing answer or management error
// other than for GRANDMASTER_SETTINGS_NP fails the snapshot.
func (c *Client) Snapshot(ctx context.Context) (*Snapshot, error) {
	s := &Snapshot{}
	var gm GrandmasterSettingsNP
	var pds []PortDataSet
	var pps []PortPropertiesNP
	one := func(id ManagementID, h func([]byte) error) *call { return &call{id: id, want: 1, handle: h} }
	gmCall := one(IDGrandmasterSettingsNP, gm.UnmarshalBinary)
	calls := []*call{
		one(IDDefaultDataSet, s.Default.UnmarshalBinary),
		one(IDCurrentDataSet, s.Current.UnmarshalBinary),
		one(IDParentDataSet, s.Parent.UnmarshalBinary),
		one(IDTimePropertiesDataSet, s.TimeProperties.UnmarshalBinary),
		one(IDTimeStatusNP, s.TimeStatus.UnmarshalBinary),
		gmCall,
		portCall(IDPortDataSet, -1, &pds),
		portCall(IDPortPropertiesNP, -1, &pps),
	}
	if err := c.exchange(ctx, calls); err != nil {
		return nil, err
	}
	for _, cl := range calls {
		if cl.err != nil && cl != gmCall {
			return nil, c.managementError(cl.err)
		}
	}
	if gmCall.err == nil {
		s.GrandmasterSettings = &gm
	}
	iface := make(map[uint16]string, len(pps))
	for _, p := range pps {
		iface[p.PortIdentity.PortNumber] = p.Interface
	}
	slices.SortFunc(pds, func(a, b PortDataSet) int { return int(a.PortIdentity.PortNumber) - int(b.PortIdentity.PortNumber) })
	s.Ports = make([]Port, 0, len(pds))
	for _, p := range pds {
		s.Ports = append(s.Ports, Port{PortDataSet: p, Interface: iface[p.PortIdentity.PortNumber]})
	}
	return s, nil
}
