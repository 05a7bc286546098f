package camsim

// Chunk data (GigE Vision "image extended chunk", GVSP payload type
// 0x4001): with ChunkModeActive the payload is the image followed by one
// chunk per enabled ChunkSelector entry, each its data then a trailer of
// chunk ID and length (big-endian), so that a receiver finds a chunk by
// walking back from the end of the block. The image itself is the first
// chunk (chunkIDImage).

const (
	payloadTypeImageChunk = 0x4001
	chunkIDImage          = 0x0000_0001
	chunkTrailer          = 8
)

// Chunks of camsim's own profiles' XML: ChunkSelector entry, value, chunk
// ID (the GenICam Port's ChunkID) and data length.
var ownChunks = []struct {
	name string
	id   uint32
	size int
}{
	{"Timestamp", 0x11, 8}, {"FrameID", 0x12, 8}, {"Width", 0x13, 4},
	{"Height", 0x14, 4}, {"OffsetX", 0x15, 4}, {"OffsetY", 0x16, 4},
}

// chunkSet is what a frame's chunks need, taken with its stream
// parameters.
type chunkSet struct {
	width, height uint32
	pixelFormat   uint32
	// The camera's chunks, in its XML's layout (gcam_chunk.go).
	doc *genicamDoc
	gc  []gcChunk
}

// payloadType is the GVSP payload type of a frame with p.
func (p streamParams) payloadType() uint16 {
	if p.chunks != nil {
		return payloadTypeImageChunk
	}
	return payloadTypeImage
}

// appendChunks appends to pixels (the image) its chunk trailer and the
// enabled chunks of frame counter, stamped ts.
func (cs *chunkSet) appendChunks(pixels []byte, counter, ts uint64) []byte {
	return appendGCChunks(cs.doc, cs.gc, pixels, counter, ts, cs)
}

// chunkBytes is what chunks add to the payload.
func (cs *chunkSet) chunkBytes() uint32 {
	n := uint32(chunkTrailer)
	for _, ch := range cs.gc {
		n += uint32(ch.size + chunkTrailer)
	}
	return n
}

// chunkXML describes the chunk features of the own profiles.
func (x *xmlWriter) chunkXML() {
	x.category("ChunkDataControl", "ChunkModeActive", "ChunkSelector", "ChunkEnable",
		"ChunkTimestamp", "ChunkFrameID", "ChunkWidth", "ChunkHeight", "ChunkOffsetX", "ChunkOffsetY")
	x.boolean("ChunkModeActive", "ChunkModeActiveReg")
	x.intReg("ChunkModeActiveReg", regChunkModeActive, 4, "RW", false, false)
	entries := make([][2]any, len(ownChunks))
	for i, ch := range ownChunks {
		entries[i] = [2]any{ch.name, i}
	}
	x.enum("ChunkSelector", "ChunkSelectorReg", entries)
	x.intReg("ChunkSelectorReg", regChunkSelector, 4, "RW", false, false)
	x.f(`  <Boolean Name="ChunkEnable" NameSpace="Standard">
    <pValue>ChunkEnableReg</pValue><OnValue>1</OnValue><OffValue>0</OffValue>
  </Boolean>
  <IntReg Name="ChunkEnableReg">
    <pIndex Offset="4">ChunkSelectorReg</pIndex><Address>0x%x</Address><Length>4</Length><AccessMode>RW</AccessMode><pPort>Device</pPort>
    <Sign>Unsigned</Sign><Endianess>BigEndian</Endianess>
  </IntReg>
`, regChunkEnable0)
	for _, ch := range ownChunks {
		x.f(`  <Port Name="Chunk%[1]sPort"><ChunkID>%[2]x</ChunkID></Port>
  <Integer Name="Chunk%[1]s" NameSpace="Standard"><pValue>Chunk%[1]sReg</pValue></Integer>
  <IntReg Name="Chunk%[1]sReg">
    <Address>0x0</Address><Length>%[3]d</Length><AccessMode>RO</AccessMode><pPort>Chunk%[1]sPort</pPort>
    <Cachable>NoCache</Cachable><Sign>Unsigned</Sign><Endianess>BigEndian</Endianess>
  </IntReg>
`, ch.name, ch.id, ch.size)
	}
}

// payloadSize is width·height for the 8-bit formats camsim has, plus the
// chunks in chunk mode.
func (c *camera) payloadSizeLocked() uint32 {
	if cs := c.chunksLocked(); cs != nil {
		return c.width*c.height + cs.chunkBytes()
	}
	return c.width * c.height
}

// chunksLocked is the chunk set of the next frame, nil without chunk mode.
func (c *camera) chunksLocked() *chunkSet {
	chunks := c.gc.chunksLocked()
	if chunks == nil {
		return nil
	}
	return &chunkSet{width: c.width, height: c.height, pixelFormat: c.pixelFormat, doc: c.gc.g.doc, gc: chunks}
}
