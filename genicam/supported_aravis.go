//go:build cgo && !noaravis

package genicam

// Supported reports whether this build has Aravis (cgo): without it every
// camera function returns ErrNoAravis.
const Supported = true
