package camsim

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// Chunk data of an impersonated camera, in its XML's layout: for each
// ChunkSelector entry whose ChunkEnable is on, the Chunk<entry> feature's
// register sits in the data of a chunk Port (its ChunkID); camsim writes
// the value there through the node graph and sends each port's data with
// its ID and length after the image (chunk.go).

// gcChunk is one chunk to send: its port's ID and size, and the features
// that live in it with the value each reads.
type gcChunk struct {
	id    uint32
	size  int
	feats []gcChunkFeat
}

type gcChunkFeat struct {
	name   string // Chunk<entry>
	source string // entry: Timestamp, FrameID, Width...
}

// chunksLocked lists the enabled chunks of the next frame, nil when
// ChunkModeActive is off or the XML has no chunk ports.
func (gc *gcCamera) chunksLocked() []gcChunk {
	doc := gc.g.doc
	if _, ok := doc.Nodes["ChunkModeActive"]; !ok {
		return nil
	}
	if on, err := gc.g.Int("ChunkModeActive"); err != nil || on == 0 {
		return nil
	}
	sel, ok := doc.Nodes["ChunkSelector"]
	if !ok || doc.Nodes["ChunkEnable"] == nil {
		return nil
	}
	orig, _ := gc.g.Int("ChunkSelector")
	defer func() { _ = gc.g.SetInt("ChunkSelector", orig) }()
	byPort := map[string]*gcChunk{}
	var order []string
	for _, e := range sel.Entries {
		if gc.g.SetInt("ChunkSelector", e.Value) != nil {
			continue
		}
		if on, err := gc.g.Int("ChunkEnable"); err != nil || on == 0 {
			continue
		}
		feat := "Chunk" + e.Name
		port, id, ok := gc.chunkPort(feat)
		if !ok {
			continue
		}
		ch := byPort[port]
		if ch == nil {
			ch = &gcChunk{id: id, size: gc.portSize(port)}
			byPort[port] = ch
			order = append(order, port)
		}
		ch.feats = append(ch.feats, gcChunkFeat{name: feat, source: e.Name})
	}
	out := make([]gcChunk, 0, len(order))
	for _, p := range order {
		out = append(out, *byPort[p])
	}
	return out
}

// chunkPort is the chunk Port behind feature's register, and its ChunkID.
func (gc *gcCamera) chunkPort(feat string) (string, uint32, bool) {
	n, _, err := gc.g.registerOf(feat)
	if err != nil {
		return "", 0, false
	}
	port, ok := gc.g.doc.Nodes[n.prop("pPort")]
	if !ok || port.Kind != "Port" || !port.has("ChunkID") {
		return "", 0, false
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(port.prop("ChunkID")), "0x"), 16, 32)
	if err != nil {
		return "", 0, false
	}
	return port.Name, uint32(id), true
}

// portSize is the extent of the registers the XML places on port.
func (gc *gcCamera) portSize(port string) int {
	size := 4
	for _, n := range gc.g.doc.Nodes {
		if n.prop("pPort") != port {
			continue
		}
		if r, err := gc.g.reg(n); err == nil {
			size = max(size, int(r.addr)+r.length)
		}
	}
	return (size + 3) / 4 * 4
}

// appendGCChunks appends the image trailer and chunks to a frame.
func appendGCChunks(doc *genicamDoc, chunks []gcChunk, pixels []byte, counter, ts uint64, cs *chunkSet) []byte {
	be := binary.BigEndian
	pixels = be.AppendUint32(pixels, chunkIDImage)
	pixels = be.AppendUint32(pixels, uint32(len(pixels)-4))
	for _, ch := range chunks {
		buf := make(chunkMem, ch.size)
		g := newGraph(doc, buf)
		for _, f := range ch.feats {
			var v uint64
			switch f.source {
			case "Timestamp":
				v = ts
			case "FrameID", "Framecounter", "FrameCounter":
				v = counter
			case "Width":
				v = uint64(cs.width)
			case "Height":
				v = uint64(cs.height)
			case "PixelFormat":
				v = uint64(cs.pixelFormat)
			}
			_ = g.SetInt(f.name, int64(v))
		}
		pixels = append(pixels, buf...)
		pixels = be.AppendUint32(pixels, ch.id)
		pixels = be.AppendUint32(pixels, uint32(ch.size))
	}
	return pixels
}

// chunkMem is one chunk's data as graph memory (addresses from 0).
type chunkMem []byte

func (m chunkMem) readMem(a uint64, b []byte) {
	for i := range b {
		if int(a)+i < len(m) {
			b[i] = m[int(a)+i]
		}
	}
}

func (m chunkMem) writeMem(a uint64, b []byte) {
	for i := range b {
		if int(a)+i < len(m) {
			m[int(a)+i] = b[i]
		}
	}
}
